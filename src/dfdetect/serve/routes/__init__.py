"""The service's routes by concern, each group registered on the app by its own function:
operational (page, health, readiness, metrics, info), image analysis, and jobs."""
