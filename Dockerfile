# One image for the api, the worker, the dashboard and the migration job (docker-compose.yml picks the
# command). tsx runs the TypeScript sources directly, as in development: there is no build step.
FROM node:20-bookworm-slim
WORKDIR /app
ENV CHECKPOINT_DISABLE=1 \
    NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false \
    NPM_CONFIG_AUDIT=false

# Manifests first, so that a source change does not reinstall the dependencies.
COPY package.json package-lock.json ./
COPY packages/write-behind/package.json packages/write-behind/
COPY packages/db/package.json packages/db/
COPY packages/demo/package.json packages/demo/
COPY packages/testkit/package.json packages/testkit/
COPY apps/api/package.json apps/api/
COPY apps/worker/package.json apps/worker/
COPY apps/dashboard/package.json apps/dashboard/
# Dev dependencies included: tsx runs the apps and the Prisma CLI runs `prisma migrate deploy`.
RUN npm ci --include=dev

COPY . .
RUN npm run db:generate

USER node
EXPOSE 3000 3001 9464
CMD ["node", "--import", "tsx", "apps/api/src/index.ts"]
