"""Names of the repos the loopback hub serves in these tests (see conftest.hub)."""

TARGET_REPO = "test-org/Tiny-Qwen3"
QUANTIZED_REPO = "mlx-community/Tiny-Qwen3-4bit"
DRAFT_REPO = "z-lab/Tiny-Qwen3-DFlash"
GATED_REPO = "meta-llama/Tiny-Llama"
