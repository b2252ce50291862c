// The API description page (/api/v1/docs): Swagger UI over /api/v1/openapi.json, both served
// by api-backend. The read token, when one is set, comes from the dashboard's login cookie.
window.ui = SwaggerUIBundle({
  url: "/api/v1/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
});
