"""The web app (architecture §15): its Vite build, served under /app/ from the API's own origin."""
