// GET /docs: Swagger UI over /openapi.json. A file of its own, because the
// Content-Security-Policy runs no inline script.
window.addEventListener("DOMContentLoaded", function () {
  window.ui = SwaggerUIBundle({
    url: document.getElementById("swagger-ui").dataset.spec,
    dom_id: "#swagger-ui",
    deepLinking: true,
    // Validation would send the description to swagger.io: nothing leaves.
    validatorUrl: null,
  });
});
