-- CreateTable
CREATE TABLE "video_event" (
    "video_id" TEXT NOT NULL,
    "seq" BIGINT NOT NULL,
    "type" VARCHAR(32) NOT NULL,
    "context" JSONB,
    "created_at" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "video_event_pkey" PRIMARY KEY ("video_id","seq")
);
