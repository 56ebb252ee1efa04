-- CreateTable
CREATE TABLE "profiles" (
    "id" INTEGER NOT NULL,
    "handle" TEXT NOT NULL,
    "token" UUID NOT NULL,
    "plan" "tier" NOT NULL DEFAULT 'pro',
    "karma" INTEGER NOT NULL DEFAULT 100,
    "since" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "seq" SERIAL NOT NULL,
    "note" TEXT,
    "version" BIGINT NOT NULL DEFAULT 0,

    CONSTRAINT "profiles_pkey" PRIMARY KEY ("id")
);
