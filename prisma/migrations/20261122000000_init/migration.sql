-- CreateTable
CREATE TABLE "Video" (
    "id" TEXT NOT NULL,
    "likes" BIGINT NOT NULL DEFAULT 0,
    "views" BIGINT NOT NULL DEFAULT 0,
    "version" BIGINT NOT NULL DEFAULT 0,

    CONSTRAINT "Video_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "user_settings" (
    "user_id" TEXT NOT NULL,
    "theme" TEXT NOT NULL,
    "language" TEXT NOT NULL,
    "notifications" BOOLEAN NOT NULL,
    "version" BIGINT NOT NULL DEFAULT 0,

    CONSTRAINT "user_settings_pkey" PRIMARY KEY ("user_id")
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
