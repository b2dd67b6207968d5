// Package emulator holds the tests of Lifeboat's AWS emulator
// (scripts/moto_server.py, docs/emulator.md): each behaviour the aws profile
// reproduces is proved here with the AWS SDK for Go, against a launcher
// started by testenv.StartEmulator (no Temporal). The tests are skipped with
// -short.
package emulator
