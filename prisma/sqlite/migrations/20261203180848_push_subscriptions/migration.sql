-- CreateTable
CREATE TABLE "PushSubscription" (
    "deviceId" TEXT NOT NULL PRIMARY KEY,
    "endpoint" TEXT NOT NULL,
    "p256dh" BLOB NOT NULL,
    "auth" BLOB NOT NULL,
    "updatedAt" DATETIME NOT NULL,
    CONSTRAINT "PushSubscription_deviceId_fkey" FOREIGN KEY ("deviceId") REFERENCES "Device" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);
