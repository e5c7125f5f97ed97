# The byzlab image: one image for the nodes and the adversary proxy (entry point `byzlab`).
#
# With a registry:     docker build -t byzlab:latest .
# Without a registry:  byzlab image build   (host-built wheels on a debootstrap base)
#
# Generated from src/byzlab/orchestration/image.py (registry_dockerfile), which also writes
# the offline path's Dockerfile with the same tail; a unit test keeps this file in step.
#
# Stage 1 builds the native engine's wheel (the optional byzlab-native, a PyO3 abi3
# extension for CPython >= 3.11) with cargo and maturin on the official Rust image, Debian
# bookworm like the Python one. Stage 2 builds wheels for byzlab and for the runtime
# requirements only (what the `byzlab` command, its node and its proxy import: names from
# image.py, versions from pyproject.toml) and installs them and the native wheel into a
# venv. Stage 3 copies the venv, so no wheel, compiler or pip cache reaches the final image.
ARG PYTHON_IMAGE=python:3.11-slim
ARG RUST_IMAGE=rust:1-slim-bookworm

FROM ${RUST_IMAGE} AS native
LABEL byzlab.build-stage=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /native
COPY native/Cargo.toml native/Cargo.lock native/pyproject.toml ./
COPY native/src ./src
RUN python3 -m venv /opt/maturin \
 && /opt/maturin/bin/pip install --no-cache-dir 'maturin>=1.5,<2' \
 && /opt/maturin/bin/maturin build --release --interpreter python3 --out /wheels

FROM ${PYTHON_IMAGE} AS build
LABEL byzlab.build-stage=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
COPY --from=native /wheels /wheels
RUN pip wheel --no-cache-dir --no-deps -w /wheels . \
 && PYTHONPATH=src python -m byzlab.orchestration.image requirements pyproject.toml \
      > /wheels/runtime.txt \
 && pip wheel --no-cache-dir -w /wheels -r /wheels/runtime.txt \
 && python -m venv /opt/byzlab \
 && /opt/byzlab/bin/pip install --no-cache-dir --no-index --find-links /wheels --no-deps \
      byzlab byzlab-native \
 && /opt/byzlab/bin/pip install --no-cache-dir --no-index --find-links /wheels \
      -r /wheels/runtime.txt \
 && /opt/byzlab/bin/python -m pip uninstall --yes --quiet pip setuptools \
 && find /opt/byzlab -depth -type d -name tests -path '*/site-packages/*' -exec rm -rf {} + \
 && find /opt/byzlab -type f -path '*/site-packages/*' \
      \( -name '*.pyx' -o -name '*.pxd' -o -name '*.pyi' -o -name '*.c' -o -name '*.h' \) -delete

FROM ${PYTHON_IMAGE}
# iproute2: for `tc netem` faults ([[docker.faults]] with action = "netem").
RUN apt-get update \
 && apt-get install -y --no-install-recommends iproute2 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /opt/byzlab /opt/byzlab
ENV PATH=/opt/byzlab/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    LANG=C.UTF-8
RUN groupadd --system --gid 10001 byzlab \
 && useradd --system --uid 10001 --gid 10001 --home-dir /data --no-create-home \
      --shell /usr/sbin/nologin byzlab \
 && install -d -o 10001 -g 10001 -m 0755 /data
WORKDIR /data
USER 10001:10001
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
  CMD ["python", "-m", "byzlab.orchestration.image", "health"]
ENTRYPOINT ["byzlab"]
CMD ["--help"]
