using System.CommandLine;
using Lrml.Data;
using Lrml.Experiments;
using Lrml.Protocols;
using Lrml.Training;
using Spectre.Console;

using Lrml.Models;

namespace Lrml.Cli;

/// <summary>The `lrml` command tree. Each command parses its options, calls the library, and renders.</summary>
internal static class LrmlCommandLine
{
    public static RootCommand Build()
    {
        Lrml.Fast.FastEngines.Register();   // LRML's fused CPU engine (the default on a CPU) lives in the engine room
        var root = new RootCommand("LRML research kit: reproduce, explain and extend Latent Relational Metric Learning (Tay, Luu, Hui, WWW 2018).");
        root.Options.Add(CommonOptions.DataDir);
        root.Options.Add(CommonOptions.Results);
        root.Options.Add(CommonOptions.Threads);
        root.Subcommands.Add(DataCommand());
        root.Subcommands.Add(SplitCommand());
        root.Subcommands.Add(ModelsCommand());
        root.Subcommands.Add(TrainCommand.Build());
        root.Subcommands.Add(SweepCommand.Build());
        root.Subcommands.Add(ReproduceCommand.Build());
        root.Subcommands.Add(InferenceCommands.Recommend());
        root.Subcommands.Add(InferenceCommands.Explain());
        root.Subcommands.Add(CompareCommand.Build());
        root.Subcommands.Add(BenchCommand.Build());
        root.Subcommands.Add(SoakCommand.Build());
        return root;
    }

    /// <summary>Runs a command body, turning expected failures (bad input, missing data, a full disk, a permission
    /// error, a diverged run) into one clear message on standard error, never a stack trace, and exit code 1; a bad model
    /// setting (<see cref="SettingException"/>) is a usage error: exit code 2.</summary>
    public static int Guard(Func<int> body)
    {
        try { return body(); }
        catch (Exception ex) when (ex is SettingException or DataFormatException)   // bad input: a setting, a data file (file:line: reason)
        {
            PrintError(ex.Message);
            return 2;
        }
        catch (Exception ex) when (ex is DatasetNotFoundException or ArgumentException or IOException
                                       or InvalidDataException or TrainingDivergedException or UnauthorizedAccessException
                                       or Lrml.Evaluation.NonFiniteScoreException)
        {
            PrintError(ex.Message);
            return 1;
        }
    }

    /// <summary>"error: message" on standard error, unwrapped (red when standard error is a terminal).</summary>
    public static void PrintError(string message)
    {
        bool color = !Console.IsErrorRedirected && Environment.GetEnvironmentVariable("NO_COLOR") is null;
        Console.Error.WriteLine((color ? "\u001b[31merror:\u001b[0m " : "error: ") + message);
    }

    private static Command DataCommand()
    {
        var data = new Command("data", "Inspect datasets: what is present, dataset cards.");
        var list = new Command("list", "List the datasets the kit knows, and where each was found.");
        list.SetAction(p => Guard(() =>
        {
            var dir = DataDirectory.Resolve(p.GetValue(CommonOptions.DataDir));
            AnsiConsole.MarkupLine($"Data root: [bold]{Markup.Escape(dir.Root)}[/] ({Markup.Escape(dir.Source)})");
            var table = new Table().AddColumns("dataset", "status", "where / how to get it");
            foreach (var info in Datasets.All)
            {
                string? where = Datasets.Locate(info.Name, dir);
                if (where is not null && info.Name == "ml-1m")
                    where += NcfPublic.Locate(dir) is { } ncf ? $" (+ the published NCF test split in {ncf}: protocol ncf)" : " — " + NcfPublic.MissingNote(dir);
                table.AddRow(info.Name, where is null ? "[yellow]missing[/]" : "[green]present[/]",
                    Markup.Escape(where ?? Datasets.FetchHint(info.Name, dir)));
            }
            AnsiConsole.Write(table);
            return 0;
        }));
        var stats = new Command("stats", "Print the dataset card (users, items, density, count quantiles, ratings, time range).");
        var name = new Argument<string>("dataset") { Description = "The dataset: " + DatasetOptions.Help };
        var markdown = new Option<bool>("--markdown") { Description = "Print Markdown instead of a table" };
        stats.Arguments.Add(name);
        stats.Options.Add(markdown);
        DatasetOptions.AddTo(stats);
        stats.SetAction(p => Guard(() =>
        {
            var d = Datasets.Load(DatasetOptions.Resolve(p, p.GetValue(name)!), DataDirectory.Resolve(p.GetValue(CommonOptions.DataDir)));
            var card = DatasetCard.From(d);
            if (p.GetValue(markdown)) { Console.WriteLine(card.ToMarkdown()); return 0; }
            var table = new Table().AddColumns("", d.Name).HideHeaders();
            foreach (var (k, v) in card.Rows()) table.AddRow(Markup.Escape(k), Markup.Escape(v));
            AnsiConsole.Write(table);
            return 0;
        }));
        var fetch = new Command("fetch", "Download a dataset from its official address, verify its checksums and unpack it into the data root (runs data-scripts/fetch.sh; needs bash, curl or wget, unzip).");
        var fetchName = new Argument<string>("dataset") { Description = "Dataset to fetch, e.g. ml-100k, ml-1m, ml-1m-ncf (the NCF test split of ML-1M)" };
        var force = new Option<bool>("--force") { Description = "Replace a present dataset (the old folder goes only once the new one is in place)" };
        fetch.Arguments.Add(fetchName);
        fetch.Options.Add(force);
        fetch.SetAction(p => Guard(() => DataFetch.Run(p.GetValue(fetchName)!, DataDirectory.Resolve(p.GetValue(CommonOptions.DataDir)), p.GetValue(force))));
        data.Subcommands.Add(list);
        data.Subcommands.Add(stats);
        data.Subcommands.Add(fetch);
        return data;
    }

    private static Command SplitCommand()
    {
        var cmd = new Command("split", "Build (or load) the frozen split of a dataset under a protocol and print its summary.");
        var name = new Argument<string>("dataset") { Description = "The dataset: " + DatasetOptions.Help };
        var protocol = new Option<string?>("--protocol") { Description = $"One of {string.Join(", ", SplitFactory.Protocols)} (default: the dataset's)" };
        var seed = new Option<long>("--split-seed") { Description = "Seed of the split and its candidates", DefaultValueFactory = _ => new RunSpec { Dataset = "", Model = "" }.SplitSeed };
        var negatives = new Option<int?>("--sampled-negatives") { Description = "Sampled negatives per held-out item (default: 99 for ncf, 100 otherwise)" };
        cmd.Arguments.Add(name);
        cmd.Options.Add(protocol);
        cmd.Options.Add(seed);
        cmd.Options.Add(negatives);
        DatasetOptions.AddTo(cmd);
        cmd.SetAction(p => Guard(() =>
        {
            var ctx = CommonOptions.Context(p, new ConsoleObserver());
            string dataset = DatasetOptions.Resolve(p, p.GetValue(name)!);
            string proto = p.GetValue(protocol) ?? Experiment.DefaultProtocol(dataset, ctx);
            var split = Experiment.GetSplit(dataset, proto, p.GetValue(seed), p.GetValue(negatives) ?? (proto == "ncf" ? 99 : 100), ctx);
            var table = new Table().AddColumns("", split.Dataset + " / " + split.Protocol).HideHeaders();
            table.AddRow("users × items", $"{split.NumUsers:N0} × {split.NumItems:N0}");
            table.AddRow("train pairs", $"{split.Train.Count:N0}");
            table.AddRow("validation pairs", $"{split.Validation.Count:N0}");
            table.AddRow("test pairs", $"{split.Test.Count:N0}");
            if (split.ValidationNegatives is not null) table.AddRow("validation negatives", $"{split.ValidationNegatives.Count:N0}");
            if (split.TestNegatives is not null) table.AddRow("test negatives", $"{split.TestNegatives.Count:N0}");
            foreach (var (k, v) in split.Notes.OrderBy(n => n.Key, StringComparer.Ordinal)) table.AddRow(Markup.Escape(k), Markup.Escape(v));   // as stored
            AnsiConsole.Write(table);
            return 0;
        }));
        return cmd;
    }

    private static Command ModelsCommand()
    {
        var cmd = new Command("models", "List the models, their papers, engines and default settings.");
        cmd.SetAction(p => Guard(() =>
        {
            foreach (var m in ModelRegistry.All)
            {
                AnsiConsole.MarkupLine($"[bold]{m.Name}[/] ({Markup.Escape(m.Display)}), engines: {string.Join(", ", m.Engines)}");
                AnsiConsole.MarkupLine($"  [grey]{Markup.Escape(m.Paper)}[/]");
                var cfg = m.DefaultConfig();
                if (cfg.Count > 0) AnsiConsole.WriteLine("  " + string.Join("  ", cfg.Select(kv => $"{kv.Key}={kv.Value?.ToJsonString().Trim('"')}")));
            }
            return 0;
        }));
        return cmd;
    }
}
