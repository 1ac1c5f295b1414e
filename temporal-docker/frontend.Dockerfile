# Flowpilot's web app: built with Node, served by nginx (unprivileged) together with the
# reverse proxy to the API replicas (nginx.conf). The build context is the repository root:
#   docker build -f temporal-docker/frontend.Dockerfile -t flowpilot-web .

# --- build: `npm ci` from the lockfile, then the production build into frontend/dist ---
FROM node:20.19.5-bookworm-slim AS build

# The lockfile is written by npm 11 (the dev machines' npm); the image ships npm 10.
RUN npm install --global npm@11.19.1

WORKDIR /src/frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY frontend/ ./
RUN npm run build

# --- serve: static files and the proxy, as an unprivileged user on port 8080 ---
FROM nginxinc/nginx-unprivileged:1.28.0-alpine AS serve

COPY temporal-docker/nginx.conf /etc/nginx/conf.d/default.conf
COPY --from=build /src/frontend/dist /usr/share/nginx/html

# The image's own unprivileged user (nginx, uid 101).
USER 101
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=5s --retries=3 \
    CMD ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"]
