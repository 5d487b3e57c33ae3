using System.CommandLine;
using Lrml.Cli;
using Spectre.Console;

// Logs and pipes get wide tables instead of Spectre's 80-column default for non-terminals.
if (Console.IsOutputRedirected) AnsiConsole.Profile.Width = 160;
return await LrmlCommandLine.Build().Parse(args).InvokeAsync();
