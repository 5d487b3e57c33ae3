using System.Runtime.CompilerServices;
using System.Text;

namespace Lrml.Data;

/// <summary>How raw ids of a column are read.</summary>
internal enum IdKind
{
    /// <summary>Non-negative integers (ASCII digits); "12a" is rejected. Raw ids are kept in canonical decimal form.</summary>
    Integer,
    /// <summary>Any non-empty UTF-8 text, kept verbatim (surrounding spaces trimmed).</summary>
    Text,
}

/// <summary>How the timestamp column is written.</summary>
internal enum TimestampFormat
{
    /// <summary>Unix seconds (integer; like every timestamp, 0 to 4,102,444,799: 1970-01-01 to 2099-12-31 UTC).</summary>
    UnixSeconds,
    /// <summary>Unix milliseconds (integer); stored as seconds (floor division).</summary>
    UnixMilliseconds,
    /// <summary>"YYYY-MM-DD", optionally with "THH:MM:SS" / " HH:MM:SS" and "Z"; read as UTC.</summary>
    Date,
}

/// <summary>The ratings a format allows: <see cref="Min"/> to <see cref="Max"/> in steps of <see cref="Step"/> from
/// <see cref="Min"/> (e.g. MovieLens-100K 1 to 5 in steps of 1, later MovieLens releases 0.5 to 5 in steps of 0.5).</summary>
internal sealed record RatingScale(float Min, float Max, float Step)
{
    /// <summary>Whether <paramref name="rating"/> is one of the scale's values.</summary>
    public bool Contains(float rating)
    {
        if (!(rating >= Min && rating <= Max)) return false;
        double k = (rating - Min) / (double)Step;
        return Math.Abs(k - Math.Round(k)) < 1e-4;
    }

    /// <summary>"1 to 5 in steps of 1".</summary>
    public override string ToString() => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{Min} to {Max} in steps of {Step}");
}

/// <summary>
/// Layout of a delimited interaction file for <see cref="DelimitedReader"/>: separator, header, which column
/// holds what. Columns are 0-based.
/// </summary>
internal sealed record DelimitedFormat
{
    /// <summary>Field separator, one or more characters (e.g. "," "\t" "::").</summary>
    public string Separator { get; init; } = ",";
    /// <summary>Whether the first (non-comment) line is a header to skip.</summary>
    public bool HasHeader { get; init; }
    /// <summary>When set, the header must equal this text (case-insensitive, ignoring spaces around fields).</summary>
    public string? ExpectedHeader { get; init; }
    /// <summary>Column of the user id.</summary>
    public int UserColumn { get; init; }
    /// <summary>Column of the item id.</summary>
    public int ItemColumn { get; init; } = 1;
    /// <summary>Column of the rating/weight, or null when the file has none.</summary>
    public int? RatingColumn { get; init; }
    /// <summary>Column of the timestamp, or null when the file has none.</summary>
    public int? TimestampColumn { get; init; }
    /// <summary>Exact number of fields per line; null accepts any count ≥ highest used column + 1.</summary>
    public int? FieldCount { get; init; }
    /// <summary>Lines starting with this prefix are skipped (null: no comments).</summary>
    public string? CommentPrefix { get; init; }
    /// <summary>How user ids are read.</summary>
    public IdKind UserIds { get; init; } = IdKind.Integer;
    /// <summary>How item ids are read.</summary>
    public IdKind ItemIds { get; init; } = IdKind.Integer;
    /// <summary>How the timestamp column is written.</summary>
    public TimestampFormat TimestampFormat { get; init; } = TimestampFormat.UnixSeconds;
    /// <summary>Ratings the format allows (null: any finite non-negative number). A rating off the scale is an error
    /// naming file and line.</summary>
    public RatingScale? RatingScale { get; init; }
    /// <summary>Smallest integer id (user and item columns of <see cref="IdKind.Integer"/>).</summary>
    public long MinId { get; init; }
    /// <summary>Largest integer id (default: any id of at most 18 digits).</summary>
    public long MaxId { get; init; } = 999_999_999_999_999_999;
    /// <summary>Word used for the rating column in error messages (e.g. "weight").</summary>
    public string RatingName { get; init; } = "rating";
    /// <summary>Typical bytes per line, used only to size the arrays up front.</summary>
    public int BytesPerLineHint { get; init; } = 20;

    internal int MaxColumn => Math.Max(Math.Max(UserColumn, ItemColumn), Math.Max(RatingColumn ?? -1, TimestampColumn ?? -1));

    internal void Validate()
    {
        if (string.IsNullOrEmpty(Separator)) throw new ArgumentException("Separator must not be empty.");
        if (Separator.Contains('\n') || Separator.Contains('\r')) throw new ArgumentException("Separator must not contain a line break.");
        if (UserColumn < 0 || ItemColumn < 0 || RatingColumn < 0 || TimestampColumn < 0) throw new ArgumentException("Columns are 0-based and non-negative.");
        var cols = new List<int> { UserColumn, ItemColumn };
        if (RatingColumn is int rc) cols.Add(rc);
        if (TimestampColumn is int tc) cols.Add(tc);
        if (cols.Distinct().Count() != cols.Count) throw new ArgumentException("Each column role needs its own column.");
        if (FieldCount is int fc && fc <= MaxColumn) throw new ArgumentException($"FieldCount {fc} leaves column {MaxColumn} out.");
        if (FieldCount > 64 || MaxColumn >= 64) throw new ArgumentException("At most 64 fields per line are supported.");
        if (MinId < 0 || MaxId < MinId) throw new ArgumentException($"The id range [{MinId}, {MaxId}] is empty or negative.");
    }
}

/// <summary>
/// Reads any delimited user–item file (CSV, TSV, "::"-separated, …) into <see cref="Interactions"/> with a
/// span-based, allocation-free loop. The other readers of the kit are configurations of this one.
/// </summary>
internal static class DelimitedReader
{
    /// <summary>Reads <paramref name="path"/> with <paramref name="format"/>. Raw ids are numbered in order of
    /// first appearance; provenance records the path and SHA-256 of the file.</summary>
    /// <exception cref="DataFormatException">On any malformed line (file, line and reason in the message).</exception>
    public static Interactions Read(string path, DelimitedFormat format, string? name = null)
    {
        var core = ReadCore(path, format);
        var prov = new Dictionary<string, string>
        {
            [ProvenanceKeys.File] = Path.GetFullPath(path),
            [ProvenanceKeys.Sha256] = core.Sha256,
            [ProvenanceKeys.Bytes] = core.Bytes.ToString(System.Globalization.CultureInfo.InvariantCulture),
            [ProvenanceKeys.Format] = $"delimited separator={Escape(format.Separator)} header={format.HasHeader}",
        };
        return core.Builder.Build(name ?? Path.GetFileNameWithoutExtension(path), core.Users, core.Items, null, prov);
    }

    private static string Escape(string s) => s.Replace("\t", "\\t");

    internal sealed record CoreResult(InteractionBuilder Builder, IdMap Users, IdMap Items, string Sha256, long Bytes, long Lines);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static CoreResult ReadCore(string path, DelimitedFormat f)
    {
        f.Validate();
        DatasetFiles.RefuseDirectory(path);
        long size = new FileInfo(path).Exists ? new FileInfo(path).Length : throw new FileNotFoundException($"Data file not found: {path}", path);
        using var r = new LineReader(path);
        var b = new InteractionBuilder(f.RatingColumn is not null, f.TimestampColumn is not null, InteractionBuilder.Estimate(size, f.BytesPerLineHint));
        var userInt = f.UserIds == IdKind.Integer ? new IntIdInterner() : null;
        var itemInt = f.ItemIds == IdKind.Integer ? new IntIdInterner() : null;
        var userStr = f.UserIds == IdKind.Text ? new StringIdInterner() : null;
        var itemStr = f.ItemIds == IdKind.Text ? new StringIdInterner() : null;
        byte[] sep = Encoding.UTF8.GetBytes(f.Separator);
        byte[]? comment = f.CommentPrefix is null ? null : Encoding.UTF8.GetBytes(f.CommentPrefix);
        int slots = f.FieldCount ?? f.MaxColumn + 1;
        bool exact = f.FieldCount is not null;
        Span<Range> fields = stackalloc Range[slots];
        bool headerPending = f.HasHeader;
        int uc = f.UserColumn, ic = f.ItemColumn, rc = f.RatingColumn ?? -1, tc = f.TimestampColumn ?? -1;
        bool sawAnyLine = false;
        long minId = f.MinId, maxId = f.MaxId;
        var scale = f.RatingScale;

        while (r.TryReadLine(out var line))
        {
            if (line.Length == 0 || TextParse.IsBlank(line)) continue;
            if (comment is not null && line.StartsWith(comment)) continue;
            sawAnyLine = true;
            if (headerPending)
            {
                headerPending = false;
                CheckHeader(r, line, sep, f, fields);
                continue;
            }
            int n = TextParse.Split(line, sep, fields);
            if (exact ? n != slots : n < slots)   // n == slots + 1 means "more": allowed unless exact
                throw TextParse.FieldCountError(r, line, sep, slots, n, atLeast: !exact);
            int u = userInt is not null
                ? userInt.GetOrAdd(TextParse.CheckId(r, TextParse.ParseId(r, line[fields[uc]], "user id"), minId, maxId, "user id"))
                : userStr!.GetOrAdd(r, line[fields[uc]], "user id");
            int i = itemInt is not null
                ? itemInt.GetOrAdd(TextParse.CheckId(r, TextParse.ParseId(r, line[fields[ic]], "item id"), minId, maxId, "item id"))
                : itemStr!.GetOrAdd(r, line[fields[ic]], "item id");
            float rating = 0f;
            if (rc >= 0)
            {
                rating = TextParse.ParseRating(r, line[fields[rc]], f.RatingName);
                if (scale is not null) TextParse.CheckRating(r, line[fields[rc]], rating, scale, f.RatingName);
            }
            long ts = 0;
            if (tc >= 0)
            {
                var field = line[fields[tc]];
                ts = f.TimestampFormat switch
                {
                    TimestampFormat.UnixSeconds => TextParse.ParseInteger(r, field, "timestamp"),
                    TimestampFormat.UnixMilliseconds => Math.DivRem(TextParse.ParseInteger(r, field, "timestamp"), 1000).Quotient,
                    _ => TextParse.ParseDate(r, field, "timestamp"),
                };
                TextParse.CheckTimestamp(r, field, ts);
            }
            b.Add(u, i, rating, ts);
        }
        if (b.Count == 0)
            throw new DataFormatException(path, 0, sawAnyLine ? "file has no data lines (only a header or comments)" : "file is empty");
        return new CoreResult(b,
            userInt?.ToIdMap() ?? userStr!.ToIdMap(),
            itemInt?.ToIdMap() ?? itemStr!.ToIdMap(),
            r.Sha256Hex(), r.BytesRead, r.LineNumber);
    }

    private static void CheckHeader(LineReader r, ReadOnlySpan<byte> line, byte[] sep, DelimitedFormat f, Span<Range> fields)
    {
        if (f.ExpectedHeader is not null)
        {
            if (!HeaderEquals(line, f.ExpectedHeader, f.Separator))
                throw r.Error($"unexpected header: expected \"{f.ExpectedHeader}\", found \"{TextParse.Preview(line)}\"" +
                    (LooksLikeData(line, sep, f, fields) ? " (the header line is missing: this line looks like data)" : ""));
            return;
        }
        if (LooksLikeData(line, sep, f, fields))
            throw r.Error($"expected a header line, but the first line looks like data: \"{TextParse.Preview(line)}\" (does the file really have a header line?)");
    }

    private static bool LooksLikeData(ReadOnlySpan<byte> line, byte[] sep, DelimitedFormat f, Span<Range> fields)
    {
        int n = TextParse.Split(line, sep, fields);
        if (n < fields.Length) return false;
        return IsDigits(line[fields[f.UserColumn]]) && IsDigits(line[fields[f.ItemColumn]]);
    }

    private static bool IsDigits(ReadOnlySpan<byte> s)
    {
        s = TextParse.TrimSpaces(s);
        return s.Length > 0 && s.IndexOfAnyExceptInRange((byte)'0', (byte)'9') < 0;
    }

    private static bool HeaderEquals(ReadOnlySpan<byte> line, string expected, string separator)
    {
        string actual = Encoding.UTF8.GetString(line);
        var a = actual.Split(separator).Select(s => s.Trim()).ToArray();
        var e = expected.Split(separator).Select(s => s.Trim()).ToArray();
        return a.Length == e.Length && a.Zip(e).All(p => string.Equals(p.First, p.Second, StringComparison.OrdinalIgnoreCase));
    }
}
