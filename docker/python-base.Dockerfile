# Offline stand-in for the upstream python:<X.Y>-slim-<distro> image, for machines that
# reach no container registry (the kit's test machines). Debian's own python3 (+ venv and
# ensurepip) on the local debian:<distro>-slim — everything the rendered Dockerfile
# (docker/Dockerfile.j2) asks of its BASE_IMAGE. docker/build.sh --standin-base builds and
# tags it with the upstream name ONLY when that name is absent locally, and labels it
# org.kit.stand-in, so a real upstream image is never shadowed and a stand-in is always
# recognisable. It carries nothing of the service: one recipe for every service.
#
# Build (exact commands; `./kit build docker --distro trixie` runs the same pair, and
# build.sh runs this recipe when the base is absent):
#   ./kit render docker --distro trixie --version 1.0.0
#   bash docker/build.sh --build-dir .kit/build/docker/trixie/1.0.0 --out dist/docker/trixie/1.0.0 --standin-base
# which runs, with an empty context:
#   docker build -f docker/python-base.Dockerfile --build-arg DEBIAN_IMAGE=debian:trixie-slim \
#     --label org.kit.stand-in=<recipe hash> -t python:3.13-slim-trixie <empty dir>
ARG DEBIAN_IMAGE=debian:trixie-slim
FROM ${DEBIAN_IMAGE}
# DL3008 (pin apt versions) is ignored on purpose: the stand-in must follow the distro's
# current python3 with its security updates, as the upstream image follows 3.X.latest.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv \
 && rm -rf /var/lib/apt/lists/*
CMD ["python3"]
