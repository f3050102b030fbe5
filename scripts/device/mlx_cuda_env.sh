# Sourced by the GPU-host scripts: installs the split MLX CUDA wheels into /tmp/site once per machine
# (/tmp/part.aa staged by an earlier call, .whlB carried by this one), then points Python at them.
WHL=/tmp/mlx_cuda_13-0.32.4-py3-none-manylinux_2_35_x86_64.whl
if [ ! -d /tmp/site/mlx ]; then
  cat /tmp/part.aa .whlB/part.ab > $WHL || exit 1
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site $WHL .whlB/mlx-0.32.4-*.whl .whlB/mlx_lm-*.whl || exit 1
fi
if [ ! -d /tmp/site/tomli_w ]; then  # the CLI's own small dependencies (settings)
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whlB/tomli_w-*.whl .whlB/platformdirs-*.whl || exit 1
fi
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
