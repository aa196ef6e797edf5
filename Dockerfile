FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY idp ./idp
COPY portal ./portal
COPY shared ./shared
COPY config ./config
RUN pip install --no-cache-dir '.[postgres,redis]' && \
    (pybabel compile -d idp/translations || true) && (pybabel compile -d portal/translations || true)
RUN useradd --system app
USER app
# The server of record (granian, settings in config/serve.py); docker-compose.yml runs the
# portal with the same command and portal.wsgi:app.
EXPOSE 5100
CMD ["python", "config/serve.py", "idp.wsgi:app", "--bind", "0.0.0.0:5100"]
