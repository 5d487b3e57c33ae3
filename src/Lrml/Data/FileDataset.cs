using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Lrml.Data;

/// <summary>
/// A dataset of one's own: a delimited interaction file (CSV, TSV, "::"-separated, …) and its format — separator, header,
/// the role of each column by position, and optionally an implicit-feedback threshold and a k-core filter. It is given
/// on the command line (<c>--dataset my.csv --sep , --header --columns user,item,rating,timestamp</c>, see
/// <see cref="FromOptions"/>) or as a small JSON dataset file (<see cref="FromJson(string)"/>):
/// <code>
/// { "name": "my-data", "file": "ratings.csv", "separator": ",", "header": true,
///   "columns": ["user", "item", "rating", "timestamp"], "timestamps": "seconds", "min_rating": 4, "k_core": 5 }
/// </code>
/// Only <c>file</c> and <c>columns</c> are required; <c>file</c> is relative to the JSON file's folder. Registered with
/// <see cref="Datasets.Register"/>, it is a dataset like the built-in ones under its <see cref="Name"/>; its run identity
/// holds the file's SHA-256 and <see cref="IdentityJson"/> (every format option), never its path.
/// </summary>
internal sealed record FileDataset
{
    /// <summary>The column roles; "_" (or "skip") ignores a column.</summary>
    public static IReadOnlyList<string> Roles { get; } = ["user", "item", "rating", "timestamp"];

    /// <summary>The keys of a JSON dataset file.</summary>
    public static IReadOnlyList<string> Keys { get; } = ["name", "file", "separator", "header", "columns", "timestamps", "min_rating", "k_core"];

    /// <summary>How a timestamp column may be written: Unix seconds (the default), Unix milliseconds, or a date
    /// ("YYYY-MM-DD", optionally with " HH:MM:SS" or "THH:MM:SS" and "Z"; read as UTC).</summary>
    public static IReadOnlyList<string> TimestampKinds { get; } = ["seconds", "milliseconds", "date"];

    /// <summary>Name of the dataset (results/runs/&lt;name&gt;/…, split cache, tables): letters, digits, '.', '_', '-'.</summary>
    public required string Name { get; init; }
    /// <summary>Full path of the interaction file.</summary>
    public required string File { get; init; }
    /// <summary>Field separator (a tab is "\t").</summary>
    public required string Separator { get; init; }
    /// <summary>Whether the first line is a header (skipped; a first line that looks like data is refused).</summary>
    public bool Header { get; init; }
    /// <summary>The role of each column in order: user, item, rating, timestamp or "_". Every line has exactly this many fields.</summary>
    public required IReadOnlyList<string> Columns { get; init; }
    /// <summary>How the timestamp column is written: one of <see cref="TimestampKinds"/>.</summary>
    public string Timestamps { get; init; } = "seconds";
    /// <summary>Implicit feedback: only interactions with rating ≥ this count (null: every line is an interaction).</summary>
    public float? MinRating { get; init; }
    /// <summary>Iterative k-core on users and items, counting interaction rows (0: off).</summary>
    public int KCore { get; init; }

    private static readonly Regex NamePattern = new("^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", RegexOptions.CultureInvariant);

    /// <summary>The format the command-line options give (their names in errors: --sep, --columns, …). A null separator
    /// is a tab for .tsv/.tab files, else a comma. The name is the file's name without extension.</summary>
    /// <exception cref="ArgumentException">A bad option or a missing file, naming the option.</exception>
    public static FileDataset FromOptions(string file, string? separator, bool header, string? columns, float? minRating, int? kCore, string? timestamps = null) =>
        Create(null, file, separator, header, columns?.Split(',').ToList(), timestamps, minRating, kCore,
            (key, message) => new ArgumentException($"{CliName(key)}: {message}"));

    /// <summary>Reads a JSON dataset file strictly: unknown keys, wrong types, a missing file or bad column roles are a
    /// <see cref="DataFormatException"/> naming the JSON file and the key.</summary>
    public static FileDataset FromJson(string path)
    {
        string full = Path.GetFullPath(path);
        DatasetFiles.RefuseDirectory(full);
        if (!System.IO.File.Exists(full)) throw new DataFormatException(full, 0, "no such dataset file");
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(System.IO.File.ReadAllText(full), documentOptions: new JsonDocumentOptions
            {
                CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true, AllowDuplicateProperties = false,
            });
        }
        catch (JsonException e) { throw new DataFormatException(full, (e.LineNumber ?? -1) + 1, $"not valid JSON ({e.Message.Split('\n')[0]})", e); }
        if (node is not JsonObject o) throw new DataFormatException(full, 0, "a dataset file holds one JSON object, e.g. {\"file\": \"ratings.csv\", \"columns\": [\"user\", \"item\"]}");
        return FromJson(o, full, Path.GetFileNameWithoutExtension(full));
    }

    /// <summary>A dataset from the JSON object of a dataset file (or of <see cref="ToJson"/>); <paramref name="origin"/>
    /// names it in errors and its folder anchors a relative <c>file</c>.</summary>
    public static FileDataset FromJson(JsonObject o, string origin, string? defaultName = null)
    {
        Exception Fail(string key, string message) => new DataFormatException(origin, 0, $"\"{key}\": {message}");
        foreach (var (key, _) in o)
            if (!Keys.Contains(key)) throw new DataFormatException(origin, 0, $"unknown key \"{key}\" (a dataset file has: {string.Join(", ", Keys)})");
        T? Get<T>(string key, string expected)
        {
            if (o[key] is not { } v) return default;
            try { return v.GetValue<T>(); }
            catch (Exception e) when (e is InvalidOperationException or FormatException) { throw Fail(key, $"must be {expected} (got {v.ToJsonString()})"); }
        }
        List<string>? columns = o["columns"] switch
        {
            null => null,
            JsonArray a => a.Select(c => c is JsonValue v && v.TryGetValue(out string? s) ? s : throw Fail("columns", $"roles are strings (got {c?.ToJsonString() ?? "null"})")).ToList(),
            JsonValue v when v.TryGetValue(out string? s) => s.Split(',').ToList(),
            var v => throw Fail("columns", $"must be a list of roles, e.g. [\"user\", \"item\", \"rating\"] (got {v.ToJsonString()})"),
        };
        string file = Get<string>("file", "a path") ?? throw Fail("file", "is missing: name the interaction file (relative to this file's folder)");
        string anchored = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(origin) ?? ".", file));
        return Create(Get<string>("name", "a string"), anchored, Get<string>("separator", "a string"), Get<bool>("header", "true or false"), columns,
            Get<string>("timestamps", "a string"), o["min_rating"] is null ? null : Get<float>("min_rating", "a number"), Get<int>("k_core", "a whole number"), Fail, defaultName);
    }

    private static FileDataset Create(string? name, string file, string? separator, bool header, List<string>? columns, string? timestamps, float? minRating, int? kCore,
        Func<string, string, Exception> fail, string? defaultName = null)
    {
        string full = Path.GetFullPath(file);
        if (Directory.Exists(full)) throw fail("file", $"{full} is a directory; name the interaction file");
        if (!System.IO.File.Exists(full)) throw fail("file", $"no such file: {full}");
        string sep = separator switch
        {
            null => Path.GetExtension(full).ToLowerInvariant() is ".tsv" or ".tab" ? "\t" : ",",
            "tab" or "\\t" or "TAB" => "\t",
            "" => throw fail("separator", "must not be empty (e.g. \",\", \"tab\", \";\", \"::\")"),
            _ when separator.Contains('\n') || separator.Contains('\r') => throw fail("separator", "must not contain a line break"),
            _ => separator,
        };
        if (columns is null) throw fail("columns", $"is missing: give the role of each column in order, from {string.Join(", ", Roles)}, and _ for a column to ignore (e.g. user,item,rating,timestamp)");
        var roles = new List<string>();
        for (int c = 0; c < columns.Count; c++)
        {
            string r = columns[c].Trim().ToLowerInvariant();
            if (r is "skip" or "-") r = "_";
            if (r != "_" && !Roles.Contains(r))
                throw fail("columns", $"unknown column role \"{columns[c].Trim()}\" (column {c + 1}); the roles are {string.Join(", ", Roles)}, and _ or skip for a column to ignore");
            if (r != "_" && roles.Contains(r)) throw fail("columns", $"the role {r} is given twice (columns {roles.IndexOf(r) + 1} and {c + 1})");
            roles.Add(r);
        }
        if (roles.Count > 64) throw fail("columns", "at most 64 columns are supported");
        foreach (var required in new[] { "user", "item" })
            if (!roles.Contains(required)) throw fail("columns", $"no column is the {required} (got {string.Join(",", roles)})");
        if (minRating is float t)
        {
            if (!float.IsFinite(t)) throw fail("min_rating", "must be a finite number");
            if (!roles.Contains("rating")) throw fail("min_rating", "needs a rating column (rating ≥ min_rating counts as an interaction)");
        }
        if (kCore is < 0) throw fail("k_core", $"must be ≥ 0 (got {kCore})");
        timestamps = timestamps?.Trim().ToLowerInvariant() ?? "seconds";
        if (!TimestampKinds.Contains(timestamps)) throw fail("timestamps", $"\"{timestamps}\" is not one of {string.Join(", ", TimestampKinds)}");
        if (timestamps != "seconds" && !roles.Contains("timestamp")) throw fail("timestamps", "needs a timestamp column");
        name ??= Regex.Replace(defaultName ?? Path.GetFileNameWithoutExtension(full), "[^A-Za-z0-9._-]+", "-").Trim('-', '.');
        if (!NamePattern.IsMatch(name))
            throw fail("name", $"\"{name}\" is not a dataset name (1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit)");
        if (Datasets.IsBuiltIn(name))
            throw fail("name", $"\"{name}\" is the name of a built-in dataset: rename the file, or give a dataset file (JSON) with another \"name\"");
        return new FileDataset
        {
            Name = name, File = full, Separator = sep, Header = header, Columns = roles, Timestamps = timestamps, MinRating = minRating, KCore = kCore ?? 0,
        };
    }

    private static string CliName(string key) => key switch
    {
        "file" or "name" => "--dataset",
        "separator" => "--sep",
        _ => "--" + key.Replace('_', '-'),
    };

    /// <summary>The reader's format: ids are text (kept verbatim), exactly one field per column.</summary>
    public DelimitedFormat Format
    {
        get
        {
            int Col(string role) => Columns.ToList().IndexOf(role);
            return new DelimitedFormat
            {
                Separator = Separator, HasHeader = Header, FieldCount = Columns.Count,
                UserColumn = Col("user"), ItemColumn = Col("item"),
                RatingColumn = Col("rating") is >= 0 and var r ? r : null, TimestampColumn = Col("timestamp") is >= 0 and var s ? s : null,
                UserIds = IdKind.Text, ItemIds = IdKind.Text,
                TimestampFormat = Timestamps switch { "milliseconds" => TimestampFormat.UnixMilliseconds, "date" => TimestampFormat.Date, _ => TimestampFormat.UnixSeconds },
            };
        }
    }

    /// <summary>Every option that changes the data read, without the file's path (its SHA-256 stands for the content):
    /// part of the split identity, hence of every run's.</summary>
    public JsonObject IdentityJson()
    {
        var o = new JsonObject
        {
            ["separator"] = Separator, ["header"] = Header, ["columns"] = string.Join(",", Columns),
        };
        if (Timestamps != "seconds") o["timestamps"] = Timestamps;   // absent for the default
        if (MinRating is float t) o["min_rating"] = t;
        if (KCore > 0) o["k_core"] = KCore;
        return o;
    }

    /// <summary>The canonical JSON of the definition (absolute file path): what a cluster spec file carries.</summary>
    public JsonObject ToJson()
    {
        var o = IdentityJson();
        o["name"] = Name;
        o["file"] = File;
        o["columns"] = new JsonArray(Columns.Select(c => (JsonNode)c).ToArray());
        return o;
    }

    /// <summary>"columns user,item,rating, separator ',', header, rating ≥ 4, 5-core".</summary>
    public string Describe() =>
        $"columns {string.Join(",", Columns)}, separator '{Separator.Replace("\t", "\\t")}'{(Header ? ", header" : "")}" + (Filters() is { Length: > 0 } f ? ", " + f : "");

    private string Filters() => string.Join(", ", new[]
    {
        MinRating is float t ? "rating ≥ " + t.ToString(CultureInfo.InvariantCulture) : null, KCore > 0 ? $"{KCore}-core" : null,
    }.OfType<string>());

    /// <summary>What the format probably misses, for a reader's error: a header (a word where line 1 has a number) or dates.</summary>
    private string? Hint(DataFormatException e)
    {
        string value = Regex.Match(e.Reason, "^\\w+ \"([^\"]*)\" is not an? ").Groups[1].Value;
        if (!Header && e.Line == 1 && value.Length > 0 && !value.Any(char.IsAsciiDigit))
            return " (is the first line a header? Then say so: --header, or \"header\": true)";
        if (Timestamps != "date" && e.Reason.StartsWith("timestamp", StringComparison.Ordinal) && Regex.IsMatch(value, @"^\d{4}-\d\d-\d\d"))
            return " (dates? Then say so: --timestamps date, or \"timestamps\": \"date\")";
        return null;
    }

    /// <summary>Reads the file (errors name file, line and reason), then keeps rating ≥ <see cref="MinRating"/>, applies the
    /// k-core and renumbers users and items over those left. Provenance: the file, its SHA-256, the format and each step.</summary>
    public Interactions Read()
    {
        DelimitedReader.CoreResult core;
        try { core = DelimitedReader.ReadCore(File, Format); }
        catch (DataFormatException e) when (Hint(e) is { } hint) { throw new DataFormatException(e.FilePath, e.Line, e.Reason + hint, e); }
        var prov = DatasetFiles.MainProvenance(File, core, "own data: " + Describe());
        var data = core.Builder.Build(Name, core.Users, core.Items, null, prov);
        if (MinRating is float t) data = Preprocess.ToImplicit(data, t).Data;
        if (KCore > 0) data = Preprocess.KCore(data, KCore, KCore).Data;
        if (MinRating is not null || KCore > 0)
        {
            if (data.Count == 0) throw new DataFormatException(File, 0, $"no interaction is left after the filters ({Filters()})");
            data = Preprocess.Compact(data).Data;
        }
        return data;
    }
}
