# Sourced by the other scripts: uv from the project's own tool venv (.tools) or the PATH,
# and uv told never to download an interpreter.
case ":$PATH:" in *":$PWD/.tools/bin:"*) ;; *) PATH="$PATH:$PWD/.tools/bin" ;; esac
export PATH
export UV_PYTHON_DOWNLOADS=never
