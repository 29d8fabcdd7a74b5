# secrets-sidecar image: multi-stage, runs as the non-root `node` user (uid 1000) under tini, no secret in any layer.
#   docker build -t secrets-sidecar .
#   docker run --tmpfs /run/secrets-sidecar:mode=0700,uid=1000,gid=1000 \
#     -v "$PWD/sidecar.hcl:/etc/secrets-sidecar/sidecar.hcl:ro" secrets-sidecar
# Node 24 is an LTS line supported until 2028 (Node 20 reached end of life in April 2026).
ARG NODE_IMAGE=node:24.11.1-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: no dependency runs code at build time.
RUN npm ci --ignore-scripts
COPY scripts ./scripts
COPY src ./src
RUN node scripts/build.mjs --no-snapshot && npm prune --omit=dev --ignore-scripts

# The start-up snapshot (scripts/build-snapshot.mjs): V8 loads it only in the Node binary that made it, under
# the same V8 flags, so it is made here, from the image the sidecar runs in, at the path it runs from.
FROM ${NODE_IMAGE} AS snapshot
WORKDIR /app
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY scripts/build-snapshot.mjs scripts/node-flags.json ./scripts/
RUN node scripts/build-snapshot.mjs

FROM ${NODE_IMAGE}
# tini as PID 1: forwards signals to node and reaps zombies.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini=0.19.0-1+b3 \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=snapshot /app/dist ./dist
# The output directory. Mount a tmpfs here (--tmpfs, or an emptyDir with medium: Memory): secrets-sidecar
# refuses to write secrets onto any other filesystem, so a forgotten mount fails closed instead of leaking to disk.
RUN mkdir -p /run/secrets-sidecar /etc/secrets-sidecar \
 && chown 1000:1000 /run/secrets-sidecar \
 && chmod 0700 /run/secrets-sidecar
VOLUME ["/run/secrets-sidecar"]
# No HEALTHCHECK here: with a listener block, Kubernetes probes (and compose healthchecks) ask GET /healthz and
# /readyz; the sidecar's own readiness depends on its config, which the image cannot know.
EXPOSE 9102
# The image's `node` user, by number so that Kubernetes can verify runAsNonRoot.
USER 1000:1000
# node starts from the snapshot (the loaded bundle) with the flags of scripts/node-flags.json; "--" ends node's
# own options, so that --version or --log-level reach secrets-sidecar.
ENTRYPOINT ["/usr/bin/tini", "--", "node", "--max-semi-space-size=1", "--v8-pool-size=1", "--no-opt", "--optimize-for-size", "--snapshot-blob", "/app/dist/snapshot/sidecar.blob", "--"]
CMD ["run", "-c", "/etc/secrets-sidecar/sidecar.hcl"]
