# The gateway for ECS, App Runner or any container host.
#   docker build -t commerce-gateway .
#   docker run -p 8000:8000 -e ENVIRONMENT=production -e COMMERCE_TABLE=babesclub-commerce \
#     -e AWS_DEFAULT_REGION=us-east-1 -e STRIPE_SECRET=sk_live_... -e STRIPE_WEBHOOK_SECRET=whsec_... \
#     -e JWT_SECRET=... -e QUOTE_SIGNING_SECRET=... \
#     -e CHECKOUT_SUCCESS_URL=https://shop.example/thanks -e CHECKOUT_CANCEL_URL=https://shop.example/cart \
#     -e SMTP_URL=smtp+starttls://user:password@email-smtp.us-east-1.amazonaws.com:587 \
#     -e EMAIL_FROM=orders@shop.example -e ORDER_URL_TEMPLATE='https://shop.example/orders/{orderId}' \
#     commerce-gateway
# (AWS credentials from the task role, or -e AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY.)
# `docker run ... commerce-gateway gateway doctor` checks that setup.
# GATEWAY_WORKERS=auto: one worker process per core the container is given (its CPU limit),
# one on a single core; `-e GATEWAY_WORKERS=N` sets it (README, Workers).
FROM python:3.13-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CATALOG_PATH=/app/catalog/products.json GATEWAY_DB=/app/var/gateway.db GATEWAY_WORKERS=auto
WORKDIR /app
# Dependencies first, pinned (deploy/requirements.lock): a code change rebuilds only the layers below.
COPY deploy/requirements.lock deploy/requirements.lock
RUN pip install --no-deps -r deploy/requirements.lock
COPY . .
RUN pip install --no-deps . \
 && useradd --create-home --uid 10001 gateway \
 && mkdir -p /app/var && chown gateway /app/var
USER gateway
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --retries=3 \
  CMD python -c "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=3).status != 200)"
CMD ["sh", "-c", "exec gateway serve --host 0.0.0.0 --port 8000 --workers \"$GATEWAY_WORKERS\""]
