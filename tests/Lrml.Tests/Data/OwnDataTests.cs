using System.Globalization;
using System.Text;
using Lrml.Cli;
using Lrml.Data;
using Lrml.Experiments;
using Lrml.Util;

namespace Lrml.Tests.Data;

/// <summary>
/// Issue 16 §2: a data file of one's own (CSV, TSV, any separator) given with its format, or as a JSON dataset file, is a
/// dataset like the built-in ones — read with the kit's delimited reader, filtered as asked (rating threshold, k-core),
/// checksummed into every run's identity, and refused with the file, the key or the line named when it is wrong.
/// </summary>
public sealed class OwnDataTests
{
    /// <summary>Eight interactions, hand-counted: users A B C D, items i1–i4; ratings 5 4 3 4 5 1 5 4.</summary>
    private const string Rows = "A,i1,5,100\nA,i2,4,101\nA,i3,3,102\nB,i1,4,103\nB,i2,5,104\nB,i3,1,105\nC,i1,5,106\nD,i4,4,107\n";

    private static Interactions Load(FileDataset d) => Datasets.Load(Datasets.Register(d).Name);

    private static FileDataset Options(string file, string? sep, bool header, string columns, float? minRating = null, int? kCore = null, string? timestamps = null) =>
        FileDataset.FromOptions(file, sep, header, columns, minRating, kCore, timestamps);

    [Fact]
    public void ACsvWithAHeaderReadsToTheHandCountedDataset()
    {
        using var t = new TempDir();
        string f = t.File("shop-ratings.csv", "user,item,rating,timestamp\n" + Rows);
        var d = Load(Options(f, ",", header: true, "user,item,rating,timestamp"));
        Assert.Equal("shop-ratings", d.Name);
        Assert.Equal((8, 4, 4), (d.Count, d.NumUsers, d.NumItems));
        Assert.Equal(["A", "B", "C", "D"], Enumerable.Range(0, 4).Select(u => d.Users[u]));
        Assert.Equal([5f, 4, 3, 4, 5, 1, 5, 4], d.Rating!);
        Assert.Equal([100L, 101, 102, 103, 104, 105, 106, 107], d.Timestamp!);
        var card = DatasetCard.From(d);
        Assert.Equal(0.5, card.Density, 12);                                     // 8 of 4 × 4 pairs
        Assert.Equal(FileStamp.Sha256(f), d.Provenance[ProvenanceKeys.Sha256]);
    }

    [Fact]
    public void NoHeaderTabsAndIgnoredColumnsReadTheSameInteractions()
    {
        using var t = new TempDir();
        var csv = Load(Options(t.File("a.csv", Rows), null, header: false, "user,item,rating,timestamp"));
        string tsvText = Rows.Replace(',', '\t');
        foreach (var sep in new[] { "tab", "\\t", "\t", null })               // a .tsv file defaults to tabs
        {
            var tsv = Load(Options(t.File("b.tsv", tsvText), sep, header: false, "user,item,rating,timestamp"));
            Assert.Equal(csv.User, tsv.User);
            Assert.Equal(csv.Item, tsv.Item);
            Assert.Equal(csv.Rating!, tsv.Rating!);
        }
        string extra = string.Concat(Rows.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => "x;" + l.Replace(',', ';') + "\n"));
        var noRating = Load(Options(t.File("c.csv", extra), ";", header: false, "skip,user,item,_,timestamp"));
        Assert.Equal((8, 4, 4), (noRating.Count, noRating.NumUsers, noRating.NumItems));
        Assert.Null(noRating.Rating);
        Assert.Equal(csv.Timestamp!, noRating.Timestamp!);
    }

    [Fact]
    public void TimestampsAreReadAsUnixSecondsMillisecondsOrDates()
    {
        using var t = new TempDir();
        t.File("d.csv", "A,i1,2020-01-02\nB,i1,2020-01-02T00:00:05Z\n");
        var dates = Load(FileDataset.FromJson(t.File("d.json", "{\"file\": \"d.csv\", \"columns\": \"user,item,timestamp\", \"timestamps\": \"date\"}")));
        Assert.Equal([1_577_923_200L, 1_577_923_205], dates.Timestamp!);                  // 2020-01-02 00:00:00 UTC, + 5 s
        var ms = Load(Options(t.File("m.csv", "A,i1,1577923200999\n"), ",", false, "user,item,timestamp", timestamps: "milliseconds"));
        Assert.Equal([1_577_923_200L], ms.Timestamp!);
        Assert.StartsWith("--timestamps: \"iso\" is not one of seconds, milliseconds, date",
            Assert.ThrowsAny<ArgumentException>(() => Options(Path.Combine(t.Path, "m.csv"), ",", false, "user,item,timestamp", timestamps: "iso")).Message);
        var secondsGiven = Assert.Throws<DataFormatException>(() => Load(Options(Path.Combine(t.Path, "d.csv"), ",", false, "user,item,timestamp")));
        Assert.Contains("d.csv:1: timestamp \"2020-01-02\" is not an integer (dates? Then say so: --timestamps date", secondsGiven.Message);
        Assert.DoesNotContain("header", secondsGiven.Message);
    }

    [Fact]
    public void AMissingOrSurplusHeaderIsRefusedAtLineOne()
    {
        using var t = new TempDir();
        var noHeaderGiven = Assert.Throws<DataFormatException>(() => Load(Options(t.File("h.csv", "user,item,rating\nA,i1,5\n"), ",", false, "user,item,rating")));
        Assert.Equal(1, noHeaderGiven.Line);
        Assert.Contains("rating \"rating\" is not a number", noHeaderGiven.Message);
        Assert.Contains("--header", noHeaderGiven.Message);
        var headerGiven = Assert.Throws<DataFormatException>(() => Load(Options(t.File("n.csv", "1,2,5\n1,3,4\n"), ",", true, "user,item,rating")));
        Assert.Equal(1, headerGiven.Line);
        Assert.Contains("looks like data", headerGiven.Message);
        var wrongSeparator = Assert.Throws<DataFormatException>(() => Load(Options(t.File("s.csv", "A;i1;5\n"), ",", false, "user,item,rating")));
        Assert.Contains("it seems to use ';'", wrongSeparator.Message);
        Assert.DoesNotContain("header", wrongSeparator.Message);                // the hint only where a word stands for a number
    }

    /// <summary>The JSON dataset file: file relative to its folder, name, threshold then k-core, hand-checked. With
    /// rating ≥ 3, B–i3 (rating 1) goes; the 2-core then drops C (1 interaction), D and i4, and i3 (left with A only):
    /// A and B with i1 and i2 remain. Without the threshold B–i3 keeps i3 in the 2-core (6 interactions).</summary>
    [Fact]
    public void AJsonDatasetFileAppliesTheThresholdThenTheKCore()
    {
        using var t = new TempDir();
        t.File("data/r.csv", Rows);
        string Json(string extra) => t.File("my-data.json",
            "{ \"name\": \"shop\", \"file\": \"data/r.csv\", \"columns\": [\"user\", \"item\", \"rating\", \"_\"]" + extra + " }");
        var both = Load(FileDataset.FromJson(Json(", \"min_rating\": 3, \"k_core\": 2")));
        Assert.Equal("shop", both.Name);
        Assert.Equal((4, 2, 2), (both.Count, both.NumUsers, both.NumItems));
        Assert.Equal(["A", "B"], Enumerable.Range(0, 2).Select(u => both.Users[u]));
        Assert.Equal(["i1", "i2"], Enumerable.Range(0, 2).Select(i => both.Items[i]));
        var kCoreOnly = Load(FileDataset.FromJson(Json(", \"k_core\": 2")));
        Assert.Equal((6, 2, 3), (kCoreOnly.Count, kCoreOnly.NumUsers, kCoreOnly.NumItems));
        var thresholdOnly = Load(FileDataset.FromJson(Json(", \"min_rating\": 3")));
        Assert.Equal((7, 4, 4), (thresholdOnly.Count, thresholdOnly.NumUsers, thresholdOnly.NumItems));
        Assert.DoesNotContain(1f, thresholdOnly.Rating!);
        // the name defaults to the JSON file's; nothing left after the filters is an error, not an empty dataset
        Assert.Equal("plain", FileDataset.FromJson(t.File("plain.json", "{\"file\": \"data/r.csv\", \"columns\": \"user,item,rating,timestamp\"}")).Name);
        var empty = Assert.Throws<DataFormatException>(() => Load(FileDataset.FromJson(Json(", \"min_rating\": 6"))));
        Assert.Contains("no interaction is left after the filters (rating ≥ 6)", empty.Message);
    }

    [Fact]
    public void BadDefinitionsNameTheOptionOrTheJsonFileAndKey()
    {
        using var t = new TempDir();
        string f = t.File("r.csv", Rows);
        string Cli(string columns, string? sep = ",", float? minRating = null, string file = "") =>
            Assert.ThrowsAny<ArgumentException>(() => Options(file == "" ? f : file, sep, false, columns, minRating)).Message;
        Assert.StartsWith("--columns: unknown column role \"usr\" (column 1)", Cli("usr,item"));
        Assert.StartsWith("--columns: the role item is given twice (columns 2 and 3)", Cli("user,item,item"));
        Assert.StartsWith("--columns: no column is the item", Cli("user,rating"));
        Assert.StartsWith("--min-rating: needs a rating column", Cli("user,item", minRating: 4));
        Assert.StartsWith("--sep: must not be empty", Cli("user,item", sep: ""));
        Assert.StartsWith("--dataset: no such file: " + Path.Combine(t.Path, "nope.csv"), Cli("user,item", file: Path.Combine(t.Path, "nope.csv")));
        Assert.Contains("built-in dataset", Cli("user,item", file: t.File("ml-100k.csv", Rows)));

        DataFormatException Json(string text) => Assert.Throws<DataFormatException>(() => FileDataset.FromJson(t.File("bad.json", text)));
        string bad = Path.Combine(t.Path, "bad.json");
        var unknown = Json("{\"file\": \"r.csv\", \"columns\": [\"user\", \"item\"], \"sep\": \",\"}");
        Assert.Equal(bad, unknown.FilePath);
        Assert.Contains("unknown key \"sep\"", unknown.Reason);
        Assert.Contains("\"file\": no such file: " + Path.Combine(t.Path, "gone.csv"), Json("{\"file\": \"gone.csv\", \"columns\": [\"user\", \"item\"]}").Message);
        Assert.Contains("\"columns\": unknown column role \"who\"", Json("{\"file\": \"r.csv\", \"columns\": [\"who\", \"item\"]}").Message);
        Assert.Contains("\"columns\": is missing", Json("{\"file\": \"r.csv\"}").Message);
        Assert.Contains("\"header\": must be true or false (got \"yes\")", Json("{\"file\": \"r.csv\", \"columns\": \"user,item\", \"header\": \"yes\"}").Message);
        Assert.Contains("\"k_core\": must be a whole number", Json("{\"file\": \"r.csv\", \"columns\": \"user,item\", \"k_core\": 2.5}").Message);
        Assert.Contains("\"name\": \"my data\" is not a dataset name", Json("{\"name\": \"my data\", \"file\": \"r.csv\", \"columns\": \"user,item\"}").Message);
        Assert.Contains("Duplicate property 'file'", Json("{\"file\": \"r.csv\", \"file\": \"x.csv\", \"columns\": \"user,item\"}").Message);
        var syntax = Json("{\n  \"file\": \"r.csv\"\n  \"columns\": []\n}");
        Assert.Equal(3, syntax.Line);
        Assert.Contains("not valid JSON", syntax.Reason);
        Assert.Contains("no such dataset file", Assert.Throws<DataFormatException>(() => FileDataset.FromJson(Path.Combine(t.Path, "none.json"))).Message);
    }

    [Fact]
    public void AMalformedLineIsRefusedWithFileAndLine()
    {
        using var t = new TempDir();
        string f = t.File("m.csv", "user,item,rating\nA,i1,5\nB,i2\nC,i3,4\n");
        var e = Assert.Throws<DataFormatException>(() => Load(Options(f, ",", true, "user,item,rating")));
        Assert.Equal((f, 3L), (e.FilePath, e.Line));
        Assert.StartsWith($"{f}:3: wrong field count: expected 3 fields separated by", e.Message);
        e = Assert.Throws<DataFormatException>(() => Load(Options(t.File("r.csv", "A,i1,-2\n"), ",", false, "user,item,rating")));
        Assert.Contains("r.csv:1: rating \"-2\" is negative", e.Message);
    }

    /// <summary>One changed byte of the file, or another format option, is another computation: the run identity and
    /// the split cache key change and name the difference; a byte-identical copy elsewhere is the same data.</summary>
    [Fact]
    public void TheFileChecksumAndEveryFormatOptionArePartOfTheRunIdentity()
    {
        using var t = new TempDir();
        string name = "own-" + Guid.NewGuid().ToString("N")[..8];
        string f = t.File(name + ".tsv", Rows.Replace(',', '\t'));
        var ctx = new ExperimentContext { Data = new DataDirectory(Path.Combine(t.Path, "no-data")), ResultsRoot = Path.Combine(t.Path, "results") };
        var spec = new RunSpec { Dataset = Datasets.Register(Options(f, null, false, "user,item,rating,timestamp")).Name, Model = "pop" };
        var before = RunIdentity.Of(spec, ctx);
        Assert.Equal(FileStamp.Sha256(f), (string?)before.Parts["split"]!["files"]![name + ".tsv"]);
        Assert.Equal("user,item,rating,timestamp", (string?)before.Parts["split"]!["format"]!["columns"]);

        string copy = Path.Combine(t.Dir("elsewhere"), name + ".tsv");
        File.Copy(f, copy);
        Datasets.Register(Options(copy, null, false, "user,item,rating,timestamp"));
        Assert.Equal(before.Key, RunIdentity.Of(spec, ctx).Key);                // the path is not part of it

        var bytes = File.ReadAllBytes(f);
        bytes[Array.IndexOf(bytes, (byte)'5')] = (byte)'4';                      // A–i1 rated 4 instead of 5
        File.WriteAllBytes(f, bytes);
        Datasets.Register(Options(f, null, false, "user,item,rating,timestamp"));
        var changed = RunIdentity.Of(spec, ctx);
        Assert.NotEqual(before.Key, changed.Key);
        Assert.Contains($"checksum of {name}.tsv", RunIdentity.Describe(RunIdentity.Differences(before.Parts, changed.Parts)));

        Datasets.Register(Options(f, null, false, "user,item,rating,timestamp", minRating: 2));
        var filtered = RunIdentity.Of(spec, ctx);
        Assert.Contains("format.min_rating: (none) (stored) vs 2 (now)", RunIdentity.Describe(RunIdentity.Differences(changed.Parts, filtered.Parts)));
    }

    /// <summary>A finished run of the file is reused by the same file only: after one changed byte the run directory is
    /// refused, naming the file's checksum.</summary>
    [Fact]
    public void AFinishedRunIsNotReusedAfterTheFileChanged()
    {
        using var t = new TempDir();
        string name = "reuse-" + Guid.NewGuid().ToString("N")[..8];
        var sb = new StringBuilder();
        for (int u = 0; u < 12; u++)
            for (int k = 0; k < 6; k++) sb.Append(CultureInfo.InvariantCulture, $"u{u},m{(u * 5 + k * 7) % 20},{1 + (u + k) % 5},{1000 + u * 10 + k}\n");
        string f = t.File(name + ".csv", sb.ToString());
        var ctx = new ExperimentContext { Data = new DataDirectory(Path.Combine(t.Path, "no-data")), ResultsRoot = Path.Combine(t.Path, "results") };
        var spec = new RunSpec { Dataset = Datasets.Register(Options(f, ",", false, "user,item,rating,timestamp")).Name, Model = "pop", SampledNegatives = 5 };
        string dir = Path.Combine(t.Path, "run");
        var first = RunStore.RunOrLoad(spec, ctx, dir);
        Assert.Equal(FileStamp.Sha256(f), first.Result.DatasetProvenance[ProvenanceKeys.Sha256]);
        Assert.Equal(name, first.Result.Dataset);
        RunStore.RunOrLoad(spec, ctx, dir);                                      // the same file: reused
        File.WriteAllText(f, sb.ToString().Replace("u0,", "u1,"));
        var e = Assert.Throws<IOException>(() => RunStore.RunOrLoad(spec, ctx, dir));
        Assert.Contains($"checksum of {name}.csv", e.Message);
    }

    /// <summary>ML-100K's u.data given as a TSV file of one's own reads to the same interactions as the named dataset.</summary>
    [Fact]
    public void Ml100kAsATsvFileMatchesTheNamedDataset()
    {
        string folder = TestData.RequireFolder("ml-100k", "u.data");
        var named = MovieLens100K.Read(folder);
        var parse = LrmlCommandLine.Build().Parse(["data", "stats", Path.Combine(folder, "u.data"), "--sep", "tab", "--columns", "user,item,rating,timestamp"]);
        string name = DatasetOptions.Resolve(parse, Path.Combine(folder, "u.data"));
        Assert.Equal("u", name);
        var own = Datasets.Load(name);
        Assert.Equal((100_000, 943, 1682), (own.Count, own.NumUsers, own.NumItems));
        Assert.Equal((named.Count, named.NumUsers, named.NumItems), (own.Count, own.NumUsers, own.NumItems));
        Assert.Equal(named.User, own.User);
        Assert.Equal(named.Item, own.Item);
        Assert.Equal(named.Rating!, own.Rating!);
        Assert.Equal(named.Timestamp!, own.Timestamp!);
        Assert.Equal(named.Provenance[ProvenanceKeys.Sha256], own.Provenance[ProvenanceKeys.Sha256]);
    }
}
