// Placeholder entry point replaced by the command tree in the foundation work.
return Lrml.Cli.Entry.Run(args);
