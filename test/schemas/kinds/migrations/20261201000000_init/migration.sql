-- CreateEnum
CREATE TYPE "tier" AS ENUM ('FREE', 'pro');

-- CreateTable
CREATE TABLE "players" (
    "id" INTEGER NOT NULL,
    "score" INTEGER NOT NULL DEFAULT 0,
    "xp" BIGINT NOT NULL DEFAULT 0,
    "name" VARCHAR(20) NOT NULL,
    "level" INTEGER,
    "ratio" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "accuracy" REAL,
    "balance" DECIMAL(12,2) NOT NULL DEFAULT 0,
    "bonus" DECIMAL(65,30),
    "active" BOOLEAN NOT NULL DEFAULT true,
    "last_seen" TIMESTAMP(3),
    "birthday" DATE,
    "prefs" JSONB,
    "tier" "tier" NOT NULL DEFAULT 'FREE',
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMP(3) NOT NULL,
    "notes" TEXT,
    "version" BIGINT NOT NULL DEFAULT 0,

    CONSTRAINT "players_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Device" (
    "id" UUID NOT NULL,
    "pings" BIGINT NOT NULL DEFAULT 0,
    "label" TEXT,
    "version" BIGINT NOT NULL DEFAULT 0,

    CONSTRAINT "Device_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Ledger" (
    "id" BIGINT NOT NULL,
    "entries" BIGINT NOT NULL DEFAULT 0,
    "memo" TEXT,
    "version" BIGINT NOT NULL DEFAULT 0,

    CONSTRAINT "Ledger_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "memberships" (
    "org_id" UUID NOT NULL,
    "user_id" INTEGER NOT NULL,
    "role" TEXT NOT NULL,
    "visits" INTEGER NOT NULL DEFAULT 0,
    "since" TIMESTAMPTZ(3) NOT NULL,
    "version" BIGINT NOT NULL DEFAULT 0,

    CONSTRAINT "memberships_pkey" PRIMARY KEY ("org_id","user_id")
);

-- CreateTable
CREATE TABLE "write_behind_tombstone" (
    "entity" TEXT NOT NULL,
    "key" TEXT NOT NULL,
    "version" BIGINT NOT NULL,
    "deleted_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "write_behind_tombstone_pkey" PRIMARY KEY ("entity","key")
);

-- CreateIndex
CREATE INDEX "write_behind_tombstone_deleted_at_idx" ON "write_behind_tombstone"("deleted_at");
