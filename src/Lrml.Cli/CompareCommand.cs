using System.CommandLine;
using Lrml.Reproduction;
using Spectre.Console;

namespace Lrml.Cli;

/// <summary>`lrml compare`: two sets of finished runs on one split (engines, optimisers, settings) side by side, with the
/// test behind "within seed noise"; writes compare.md and compare.csv with --out.</summary>
internal static class CompareCommand
{
    public static Command Build()
    {
        var cmd = new Command("compare", "Compare two sets of finished runs on one split (two engines, optimisers or settings): per metric each side's mean and seed std, Welch's t-test over the runs (within seed noise or not) and the paired t-test over per-user values.");
        var a = new Option<string[]>("--a") { Description = "Run directories of side A (each holds result.json and per_user_test.csv)", AllowMultipleArgumentsPerToken = true, Required = true };
        var b = new Option<string[]>("--b") { Description = "Run directories of side B", AllowMultipleArgumentsPerToken = true, Required = true };
        var labelA = new Option<string>("--label-a") { Description = "Name of side A in the table", DefaultValueFactory = _ => "A" };
        var labelB = new Option<string>("--label-b") { Description = "Name of side B in the table", DefaultValueFactory = _ => "B" };
        var metrics = new Option<string[]>("--metrics") { Description = "Metrics to compare (those both sides report)", AllowMultipleArgumentsPerToken = true,
            DefaultValueFactory = _ => ["HR@10", "nDCG@10", "full/HR@10", "full/nDCG@10"] };
        var output = new Option<string?>("--out", "-o") { Description = "Directory for compare.md and compare.csv (written atomically)" };
        foreach (var o in new Option[] { a, b, labelA, labelB, metrics, output }) cmd.Options.Add(o);
        cmd.SetAction(p => LrmlCommandLine.Guard(() =>
        {
            static string[] List(string[] v) => v.SelectMany(x => x.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToArray();
            string la = p.GetValue(labelA)!, lb = p.GetValue(labelB)!;
            var table = RunComparison.Compare(RunComparison.Load(List(p.GetValue(a)!)), RunComparison.Load(List(p.GetValue(b)!)), List(p.GetValue(metrics)!), la, lb);
            string sentence = RunComparison.Sentence(table, la, lb);
            table.Notes.Insert(0, sentence);
            TableRendering.Write(table);   // the sentence is the table's first note
            if (p.GetValue(output) is string dir)
            {
                Directory.CreateDirectory(dir);
                table.Save(dir, "compare");
                AnsiConsole.MarkupLine($"Written to [bold]{Markup.Escape(Path.GetFullPath(dir))}[/] (compare.md, compare.csv)");
            }
            return 0;
        }));
        return cmd;
    }
}
