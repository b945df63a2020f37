-- CreateTable
CREATE TABLE "Account" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "username" TEXT NOT NULL,
    "identityKey" BLOB NOT NULL,
    "deviceList" BLOB NOT NULL,
    "deviceListVersion" INTEGER NOT NULL,
    "deviceListSig" BLOB NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- CreateTable
CREATE TABLE "Device" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "accountId" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "identityKey" BLOB NOT NULL,
    "identityKeySig" BLOB NOT NULL,
    "signedPrekeyId" INTEGER NOT NULL,
    "signedPrekey" BLOB NOT NULL,
    "signedPrekeySig" BLOB NOT NULL,
    "lastResortKemId" INTEGER NOT NULL,
    "lastResortKem" BLOB NOT NULL,
    "lastResortKemSig" BLOB NOT NULL,
    "nextSeq" INTEGER NOT NULL DEFAULT 1,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lastSeenAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "Device_accountId_fkey" FOREIGN KEY ("accountId") REFERENCES "Account" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "OneTimePrekey" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "deviceId" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "keyId" INTEGER NOT NULL,
    "publicKey" BLOB NOT NULL,
    "signature" BLOB,
    CONSTRAINT "OneTimePrekey_deviceId_fkey" FOREIGN KEY ("deviceId") REFERENCES "Device" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "Challenge" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "deviceId" TEXT NOT NULL,
    "nonce" BLOB NOT NULL,
    "expiresAt" DATETIME NOT NULL
);

-- CreateTable
CREATE TABLE "Credential" (
    "tokenHash" BLOB NOT NULL PRIMARY KEY,
    "deviceId" TEXT NOT NULL,
    "expiresAt" DATETIME NOT NULL,
    CONSTRAINT "Credential_deviceId_fkey" FOREIGN KEY ("deviceId") REFERENCES "Device" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "Envelope" (
    "recipientDeviceId" TEXT NOT NULL,
    "seq" INTEGER NOT NULL,
    "senderDeviceId" TEXT NOT NULL,
    "serverTimestamp" BIGINT NOT NULL,
    "content" BLOB NOT NULL,
    "expiresAt" BIGINT NOT NULL,

    PRIMARY KEY ("recipientDeviceId", "seq"),
    CONSTRAINT "Envelope_recipientDeviceId_fkey" FOREIGN KEY ("recipientDeviceId") REFERENCES "Device" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateIndex
CREATE UNIQUE INDEX "Account_username_key" ON "Account"("username");

-- CreateIndex
CREATE INDEX "Device_accountId_idx" ON "Device"("accountId");

-- CreateIndex
CREATE UNIQUE INDEX "OneTimePrekey_deviceId_kind_keyId_key" ON "OneTimePrekey"("deviceId", "kind", "keyId");

-- CreateIndex
CREATE INDEX "Challenge_expiresAt_idx" ON "Challenge"("expiresAt");

-- CreateIndex
CREATE INDEX "Credential_deviceId_idx" ON "Credential"("deviceId");

-- CreateIndex
CREATE INDEX "Credential_expiresAt_idx" ON "Credential"("expiresAt");

-- CreateIndex
CREATE INDEX "Envelope_expiresAt_idx" ON "Envelope"("expiresAt");
