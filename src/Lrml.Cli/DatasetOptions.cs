using System.CommandLine;
using Lrml.Data;
using Lrml.Models;

namespace Lrml.Cli;

/// <summary>
/// A dataset of one's own wherever a command takes a dataset (data stats, split, train, sweep, reproduce): a data file
/// with its format (<c>--dataset my.csv --sep , --header --columns user,item,rating,timestamp</c>) or a JSON dataset file
/// (<c>--dataset my-data.json</c>). <see cref="Resolve"/> is the one place a command's dataset argument becomes a dataset
/// name: a file is checked before any data is read, registered (<see cref="Datasets.Register"/>) and from then on read,
/// checksummed, split, cached and named like a built-in dataset.
/// </summary>
internal static class DatasetOptions
{
    public static readonly Option<string?> Sep = new("--sep") { Description = "Your own data: the field separator of the file given as the dataset: , ; | :: or tab (also \\t); default: tab for .tsv, else ,", Recursive = true };
    public static readonly Option<bool> Header = new("--header") { Description = "Your own data: the file's first line is a header (skipped)", Recursive = true };
    public static readonly Option<string?> Columns = new("--columns") { Description = "Your own data: the role of each column in order, from user, item, rating, timestamp, and _ (or skip) for a column to ignore; e.g. user,item,rating,timestamp. Ids are kept as text", Recursive = true };
    public static readonly Option<string?> Timestamps = new("--timestamps") { Description = "Your own data: how the timestamp column is written: seconds (Unix, the default), milliseconds (Unix) or date (YYYY-MM-DD[ HH:MM:SS], UTC)", Recursive = true };
    public static readonly Option<float?> MinRating = new("--min-rating") { Description = "Your own data: implicit feedback — only interactions with rating ≥ this value count", Recursive = true };
    public static readonly Option<int?> KCore = new("--k-core") { Description = "Your own data: keep the k-core — drop users and items with fewer than K interactions, repeatedly, until every one left has K", Recursive = true };

    /// <summary>What the dataset argument accepts, for its --help text.</summary>
    public const string Help = "a dataset name (lrml data list), or your own data: a file with its format (my.csv --columns user,item,rating) or a JSON dataset file (my-data.json)";

    private static Option[] All => [Sep, Header, Columns, Timestamps, MinRating, KCore];

    /// <summary>Adds the format options to a command (they are recursive: a command's subcommands have them too).</summary>
    public static void AddTo(Command cmd)
    {
        foreach (var o in All) cmd.Options.Add(o);
    }

    /// <summary>The dataset name for a command's dataset argument: a built-in name as given; a JSON dataset file, or a data
    /// file with the format options, checked and registered under its name. A bad format, a missing file or an unknown name
    /// is a <see cref="SettingException"/> (exit code 2); a bad JSON dataset file a <see cref="DataFormatException"/>
    /// naming the file and the key.</summary>
    public static string Resolve(ParseResult p, string dataset)
    {
        var given = All.Where(o => p.GetResult(o) is { Implicit: false }).Select(o => o.Name).ToList();
        if (Datasets.IsBuiltIn(dataset))
        {
            if (given.Count > 0)
                throw new SettingException($"{string.Join(", ", given)} {(given.Count == 1 ? "applies" : "apply")} to a data file of your own, but '{dataset}' is a built-in dataset: " +
                                           "drop it, or give your file as the dataset.");
            return dataset;
        }
        FileDataset own;
        if (dataset.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
        {
            if (given.Count > 0)
                throw new SettingException($"{string.Join(", ", given)}: the dataset file {dataset} gives the format itself; set it there.");
            own = FileDataset.FromJson(dataset);
        }
        else if (given.Count > 0 || Path.Exists(dataset) || dataset.Contains('/') || dataset.Contains('\\') || Path.HasExtension(dataset))
        {
            try { own = FileDataset.FromOptions(dataset, p.GetValue(Sep), p.GetValue(Header), p.GetValue(Columns), p.GetValue(MinRating), p.GetValue(KCore), p.GetValue(Timestamps)); }
            catch (ArgumentException e) { throw new SettingException(e.Message, e); }
        }
        else
        {
            try { return Datasets.Get(dataset).Name; }   // a dataset of one's own registered earlier in this process, else unknown
            catch (ArgumentException e) { throw new SettingException(e.Message, e); }
        }
        return Datasets.Register(own).Name;
    }

    /// <summary><see cref="Resolve"/> for a list (reproduce --datasets); two different files of the same name are refused.</summary>
    public static IReadOnlyList<string>? ResolveAll(ParseResult p, IReadOnlyList<string>? datasets)
    {
        if (datasets is null) return null;
        var names = new List<string>();
        var definitions = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var d in datasets)
        {
            string name = Resolve(p, d);
            string definition = Datasets.Get(name).Own?.ToJson().ToJsonString() ?? name;
            if (definitions.TryGetValue(name, out var earlier) && earlier != definition)
                throw new SettingException($"Two datasets are named '{name}': give each file its own name (a JSON dataset file with \"name\").");
            definitions[name] = definition;
            names.Add(name);
        }
        return names;
    }
}
