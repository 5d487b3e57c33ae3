using System.CommandLine;
using Lrml.Cli;

return await LrmlCommandLine.Build().Parse(args).InvokeAsync();
