# paylinks in a container: the CLI, workers and the simulator share this image.
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY src ./src
COPY jobs ./jobs
COPY bench ./bench
COPY fixtures ./fixtures
# `npm ci` builds dist/ (the prepare script); dev dependencies are dropped after.
RUN npm ci --no-audit --no-fund && npm prune --omit=dev
USER node
ENTRYPOINT ["node", "bin/paylinks.js"]
CMD ["--help"]
