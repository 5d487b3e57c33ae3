using System.Buffers.Text;
using System.Security.Cryptography;
using Lrml.Data;

namespace Lrml.Protocols;

/// <summary>Rows of an NCF <c>.rating</c> file (<c>user \t item \t rating \t timestamp</c>, 0-based NCF ids).</summary>
internal sealed class NcfRatingFile
{
    /// <summary>The file read.</summary>
    public required string Path { get; init; }
    /// <summary>NCF user of each row.</summary>
    public required int[] Users { get; init; }
    /// <summary>NCF item of each row.</summary>
    public required int[] Items { get; init; }
    /// <summary>Rating of each row.</summary>
    public required float[] Ratings { get; init; }
    /// <summary>Unix timestamp of each row.</summary>
    public required long[] Timestamps { get; init; }
    /// <summary>1-based line number of each row (for error messages).</summary>
    public required int[] Lines { get; init; }
    /// <summary>SHA-256 (lower-case hex) of the bytes read.</summary>
    public string Sha256 { get; init; } = "";
    /// <summary>Number of rows.</summary>
    public int Count => Users.Length;
}

/// <summary>Rows of an NCF <c>.test.negative</c> file (<c>(user,item) \t neg1 \t … \t negK</c>).</summary>
internal sealed class NcfNegativeFile
{
    /// <summary>The file read.</summary>
    public required string Path { get; init; }
    /// <summary>User of each row's test pair.</summary>
    public required int[] Users { get; init; }
    /// <summary>Item of each row's test pair.</summary>
    public required int[] Items { get; init; }
    /// <summary>Negatives of row r at [r·PerLine, (r+1)·PerLine).</summary>
    public required int[] Negatives { get; init; }
    /// <summary>Negatives per row (every row has exactly this many).</summary>
    public required int PerLine { get; init; }
    /// <summary>1-based line number of each row.</summary>
    public required int[] Lines { get; init; }
    /// <summary>SHA-256 (lower-case hex) of the bytes read.</summary>
    public string Sha256 { get; init; } = "";
    /// <summary>Number of rows.</summary>
    public int Count => Users.Length;
}

/// <summary>
/// Readers for the files of the public NCF split (He et al., WWW 2017): <c>ml-1m.test.rating</c>,
/// <c>ml-1m.train.rating</c> and <c>ml-1m.test.negative</c>. Ids must lie in the given index space; any malformed
/// line, out-of-range id or wrong number of negatives raises a <see cref="DataFormatException"/> naming file and line.
/// Lines end in LF or CRLF, the last one too (a last line without its newline may be partly written, and CR-only line ends
/// are refused by name); a leading UTF-8 byte-order mark is skipped; ratings must be finite and non-negative; timestamps lie
/// in 1970–2099; a NUL byte (binary data) or another non-ASCII byte in a number is refused naming it.
/// </summary>
internal static class NcfFiles
{
    /// <summary>Reads a <c>.rating</c> file (train or test).</summary>
    public static NcfRatingFile ReadRatings(string path, int numUsers, int numItems)
    {
        var bytes = ReadAll(path);
        var users = new List<int>(); var items = new List<int>(); var ratings = new List<float>();
        var stamps = new List<long>(); var lines = new List<int>();
        ForEachLine(path, bytes, (line, no) =>
        {
            int tabs = line.Count((byte)'\t');
            if (tabs != 3) throw FieldCountError(path, no, line, tabs, "4 tab-separated fields (user, item, rating, timestamp)", tabs + 1);
            var rest = line;
            var fu = NextField(ref rest); var fi = NextField(ref rest); var fr = NextField(ref rest); var ft = rest;
            int u = ParseId(path, no, fu, "user", numUsers);
            int i = ParseId(path, no, fi, "item", numItems);
            if (!Utf8Parser.TryParse(fr, out double r, out int cr) || cr != fr.Length)
                throw BadByte(path, no, line, fr, "rating") ?? new DataFormatException(path, no, $"rating '{Text(fr)}' is not a number.");
            if (!double.IsFinite(r)) throw new DataFormatException(path, no, $"rating '{Text(fr)}' is not a finite number.");
            if (r < 0) throw new DataFormatException(path, no, $"rating '{Text(fr)}' is negative.");
            if (!Utf8Parser.TryParse(ft, out long t, out int ct) || ct != ft.Length)
                throw BadByte(path, no, line, ft, "timestamp") ?? new DataFormatException(path, no, $"timestamp '{Text(ft)}' is not an integer.");
            if (t < TextParse.MinTimestamp || t > TextParse.MaxTimestamp)
                throw new DataFormatException(path, no, $"timestamp {t} is out of range: the kit reads times from 1970-01-01 to 2099-12-31 UTC " +
                                                        $"(Unix seconds {TextParse.MinTimestamp} to {TextParse.MaxTimestamp}).");
            users.Add(u); items.Add(i); ratings.Add((float)r); stamps.Add(t); lines.Add(no);
        });
        if (users.Count == 0) throw new DataFormatException(path, 0, "file is empty (no rows).");
        return new NcfRatingFile
        {
            Path = path, Users = users.ToArray(), Items = items.ToArray(), Ratings = ratings.ToArray(),
            Timestamps = stamps.ToArray(), Lines = lines.ToArray(), Sha256 = Convert.ToHexStringLower(SHA256.HashData(bytes)),
        };
    }

    /// <summary>Reads a <c>.test.negative</c> file; every line must list exactly <paramref name="expectedPerLine"/> negatives.</summary>
    public static NcfNegativeFile ReadNegatives(string path, int numUsers, int numItems, int expectedPerLine)
    {
        if (expectedPerLine < 1) throw new ArgumentOutOfRangeException(nameof(expectedPerLine));
        var bytes = ReadAll(path);
        var users = new List<int>(); var items = new List<int>(); var lines = new List<int>();
        var negs = new List<int>(1 << 16);
        ForEachLine(path, bytes, (line, no) =>
        {
            int count = line.Count((byte)'\t');
            if (count != expectedPerLine)
                throw FieldCountError(path, no, line, count, $"(user,item) and {expectedPerLine} negatives", count, " negatives");
            var rest = line;
            var head = NextField(ref rest);
            if (head.Length < 5 || head[0] != (byte)'(' || head[^1] != (byte)')')
                throw new DataFormatException(path, no, $"first field '{Text(head)}' must be '(user,item)'.");
            var inner = head[1..^1];
            int comma = inner.IndexOf((byte)',');
            if (comma < 0) throw new DataFormatException(path, no, $"first field '{Text(head)}' must be '(user,item)'.");
            int u = ParseId(path, no, inner[..comma], "user", numUsers);
            int i = ParseId(path, no, inner[(comma + 1)..], "item", numItems);
            for (int j = 0; j < count; j++)
                negs.Add(ParseId(path, no, NextField(ref rest), "negative item", numItems));
            users.Add(u); items.Add(i); lines.Add(no);
        });
        if (users.Count == 0) throw new DataFormatException(path, 0, "file is empty (no rows).");
        return new NcfNegativeFile
        {
            Path = path, Users = users.ToArray(), Items = items.ToArray(), Negatives = negs.ToArray(),
            PerLine = expectedPerLine, Lines = lines.ToArray(), Sha256 = Convert.ToHexStringLower(SHA256.HashData(bytes)),
        };
    }

    private static byte[] ReadAll(string path)
    {
        DatasetFiles.RefuseDirectory(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"NCF file not found: {path}", path);
        return File.ReadAllBytes(path);
    }

    private delegate void LineHandler(ReadOnlySpan<byte> line, int no);

    /// <summary>Calls <paramref name="handle"/> for each line (terminator removed, 1-based number); an empty line, CR-only
    /// line ends and a last line without its newline are errors.</summary>
    private static void ForEachLine(string path, byte[] bytes, LineHandler handle)
    {
        int pos = bytes.AsSpan().StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]) ? 3 : 0;   // UTF-8 byte-order mark
        int no = 0;
        while (pos < bytes.Length)
        {
            no++;
            int nl = Array.IndexOf(bytes, (byte)'\n', pos);
            int end = nl < 0 ? bytes.Length : nl;
            int len = end - pos;
            if (len > 0 && bytes[pos + len - 1] == (byte)'\r') len--;
            if (no == 1 && bytes.AsSpan(pos, len).IndexOf((byte)'\r') >= 0) throw new DataFormatException(path, no, LineReader.CrOnlyReason + ".");
            if (len == 0) throw new DataFormatException(path, no, "empty line.");
            if (nl < 0)
                throw new DataFormatException(path, no, LineReader.UnterminatedReason + ".");
            var line = bytes.AsSpan(pos, len);
            if (line.IndexOf((byte)0) >= 0)
                throw new DataFormatException(path, no, "line contains a NUL byte: this is binary data (a compressed archive or a UTF-16 file?), not an NCF text file.");
            handle(line, no);
            pos = nl < 0 ? bytes.Length : nl + 1;
        }
    }

    private static ReadOnlySpan<byte> NextField(ref ReadOnlySpan<byte> rest)
    {
        int tab = rest.IndexOf((byte)'\t');
        ReadOnlySpan<byte> f;
        if (tab < 0) { f = rest; rest = default; }
        else { f = rest[..tab]; rest = rest[(tab + 1)..]; }
        return f;
    }

    private static int ParseId(string path, int no, ReadOnlySpan<byte> f, string what, int limit)
    {
        if (f.IsEmpty || !Utf8Parser.TryParse(f, out int v, out int consumed) || consumed != f.Length)
            throw BadByte(path, no, default, f, what + " id") ?? new DataFormatException(path, no, $"{what} id '{Text(f)}' is not an integer.");
        if ((uint)v >= (uint)limit)
            throw new DataFormatException(path, no, $"unknown {what} id {v}: outside the index space [0, {limit}).");
        return v;
    }

    /// <summary>A wrong-separator error when the line has no TAB at all, else a wrong-field-count error.</summary>
    private static DataFormatException FieldCountError(string path, int no, ReadOnlySpan<byte> line, int tabs, string expected, int found, string unit = " fields")
    {
        string preview = TextParse.Preview(line, 80);
        return tabs == 0
            ? new DataFormatException(path, no, $"wrong separator: expected {expected}, but the line contains no TAB; the line looks like \"{preview}\".")
            : new DataFormatException(path, no, $"wrong field count: expected {expected}, found {found}{unit}; the line looks like \"{preview}\".");
    }

    /// <summary>The error for a field holding a byte that is not printable ASCII (named with its column in
    /// <paramref name="line"/> when the field is a slice of it), or null.</summary>
    private static DataFormatException? BadByte(string path, int no, ReadOnlySpan<byte> line, ReadOnlySpan<byte> field, string what)
    {
        int k = field.IndexOfAnyExceptInRange((byte)0x20, (byte)0x7E);
        if (k < 0) return null;
        int column = 0;
        if (!line.IsEmpty && line.Overlaps(field, out int offset)) column = offset + k + 1;
        return new DataFormatException(path, no, TextParse.BadByteReason(field, k, column, what) + ".");
    }

    private static string Text(ReadOnlySpan<byte> f) => System.Text.Encoding.UTF8.GetString(f.Length > 40 ? f[..40] : f);
}
