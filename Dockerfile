# Strata host image: Node 20, production dependencies (tsx runs the TypeScript sources as they are).
FROM node:20-slim
WORKDIR /app
# A 64 MB young generation (docs/operations.md, "Node heap"): the batch paths allocate many
# short-lived objects; with the default, GC took a third of the process's CPU.
ENV NODE_ENV=production \
    STRATA_DATA_DIR=/data \
    NODE_OPTIONS=--max-semi-space-size=64
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force
COPY . .
VOLUME ["/data"]
EXPOSE 8080
CMD ["npx", "strata", "start"]
