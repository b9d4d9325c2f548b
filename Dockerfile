# The gateway for ECS, App Runner or any container host.
#   docker build -t commerce-gateway .
#   docker run -p 8000:8000 -e ENVIRONMENT=production -e COMMERCE_TABLE=... -e STRIPE_SECRET=... commerce-gateway
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    CATALOG_PATH=/app/catalog/products.json GATEWAY_DB=/app/var/gateway.db GATEWAY_WORKERS=2
WORKDIR /app
COPY . .
RUN pip install --no-cache-dir . \
 && useradd --create-home --uid 10001 gateway \
 && mkdir -p /app/var && chown gateway /app/var
USER gateway
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --retries=3 \
  CMD python -c "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=3).status != 200)"
CMD ["sh", "-c", "exec gateway serve --host 0.0.0.0 --port 8000 --workers \"$GATEWAY_WORKERS\""]
