# Strata host image: Node 20, production dependencies (tsx runs the TypeScript sources as they are).
FROM node:20-slim
WORKDIR /app
ENV NODE_ENV=production \
    STRATA_DATA_DIR=/data
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force
COPY . .
VOLUME ["/data"]
EXPOSE 8080
CMD ["npx", "strata", "start"]
