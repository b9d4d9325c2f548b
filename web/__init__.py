"""The HTTP edge: auth, the request context, rate limits, body limits and security headers,
/metrics, GraphiQL and the development pages."""
