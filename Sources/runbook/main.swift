import RunbookCLI

await RunbookCommand.start()
