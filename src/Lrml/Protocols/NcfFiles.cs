using System.Buffers.Text;
using Lrml.Data;

namespace Lrml.Protocols;

/// <summary>Rows of an NCF <c>.rating</c> file (<c>user \t item \t rating \t timestamp</c>, 0-based NCF ids).</summary>
public sealed class NcfRatingFile
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
    /// <summary>Number of rows.</summary>
    public int Count => Users.Length;
}

/// <summary>Rows of an NCF <c>.test.negative</c> file (<c>(user,item) \t neg1 \t … \t negK</c>).</summary>
public sealed class NcfNegativeFile
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
    /// <summary>Number of rows.</summary>
    public int Count => Users.Length;
}

/// <summary>
/// Readers for the files of the public NCF split (He et al., WWW 2017): <c>ml-1m.test.rating</c>,
/// <c>ml-1m.train.rating</c> and <c>ml-1m.test.negative</c>. Ids must lie in the given index space; any malformed
/// line, out-of-range id or wrong number of negatives raises a <see cref="DataFormatException"/> naming file and line.
/// Lines may end in LF or CRLF; only the final line may be empty.
/// </summary>
public static class NcfFiles
{
    /// <summary>Reads a <c>.rating</c> file (train or test).</summary>
    public static NcfRatingFile ReadRatings(string path, int numUsers, int numItems)
    {
        var bytes = ReadAll(path);
        var users = new List<int>(); var items = new List<int>(); var ratings = new List<float>();
        var stamps = new List<long>(); var lines = new List<int>();
        ForEachLine(path, bytes, (line, no) =>
        {
            if (line.Count((byte)'\t') != 3)
                throw new DataFormatException(path, no, "expected 4 tab-separated fields: user, item, rating, timestamp.");
            var rest = line;
            var fu = NextField(ref rest); var fi = NextField(ref rest); var fr = NextField(ref rest); var ft = rest;
            int u = ParseId(path, no, fu, "user", numUsers);
            int i = ParseId(path, no, fi, "item", numItems);
            if (!Utf8Parser.TryParse(fr, out double r, out int cr) || cr != fr.Length || !double.IsFinite(r))
                throw new DataFormatException(path, no, $"rating '{Text(fr)}' is not a number.");
            if (!Utf8Parser.TryParse(ft, out long t, out int ct) || ct != ft.Length)
                throw new DataFormatException(path, no, $"timestamp '{Text(ft)}' is not an integer.");
            users.Add(u); items.Add(i); ratings.Add((float)r); stamps.Add(t); lines.Add(no);
        });
        if (users.Count == 0) throw new DataFormatException(path, 0, "file has no rows.");
        return new NcfRatingFile
        {
            Path = path, Users = users.ToArray(), Items = items.ToArray(), Ratings = ratings.ToArray(),
            Timestamps = stamps.ToArray(), Lines = lines.ToArray(),
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
                throw new DataFormatException(path, no, $"expected (user,item) and {expectedPerLine} negatives, found {count} negatives.");
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
        if (users.Count == 0) throw new DataFormatException(path, 0, "file has no rows.");
        return new NcfNegativeFile
        {
            Path = path, Users = users.ToArray(), Items = items.ToArray(), Negatives = negs.ToArray(),
            PerLine = expectedPerLine, Lines = lines.ToArray(),
        };
    }

    private static byte[] ReadAll(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"NCF file not found: {path}", path);
        return File.ReadAllBytes(path);
    }

    private delegate void LineHandler(ReadOnlySpan<byte> line, int no);

    /// <summary>Calls <paramref name="handle"/> for each line (terminator removed, 1-based number); an empty line
    /// other than after the final newline is an error.</summary>
    private static void ForEachLine(string path, byte[] bytes, LineHandler handle)
    {
        int pos = 0, no = 0;
        while (pos < bytes.Length)
        {
            no++;
            int nl = Array.IndexOf(bytes, (byte)'\n', pos);
            int end = nl < 0 ? bytes.Length : nl;
            int len = end - pos;
            if (len > 0 && bytes[pos + len - 1] == (byte)'\r') len--;
            if (len == 0) throw new DataFormatException(path, no, "empty line.");
            handle(bytes.AsSpan(pos, len), no);
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
            throw new DataFormatException(path, no, $"{what} id '{Text(f)}' is not an integer.");
        if ((uint)v >= (uint)limit)
            throw new DataFormatException(path, no, $"unknown {what} id {v}: outside the index space [0, {limit}).");
        return v;
    }

    private static string Text(ReadOnlySpan<byte> f) => System.Text.Encoding.UTF8.GetString(f.Length > 40 ? f[..40] : f);
}
