FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY idp ./idp
COPY portal ./portal
COPY shared ./shared
COPY config ./config
RUN pip install --no-cache-dir '.[postgres,redis]' && \
    for po in $(find idp portal -name messages.po -path '*/translations/*'); do pybabel compile -i "$po" -o "${po%.po}.mo"; done
RUN useradd --system app
USER app
EXPOSE 5100 5101
# The one server command (config/serve.sh): "idp" or "portal".
CMD ["config/serve.sh", "idp"]
