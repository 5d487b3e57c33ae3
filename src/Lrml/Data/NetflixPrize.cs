using System.Runtime.CompilerServices;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Lrml.Data;

/// <summary>
/// Reader of the Netflix Prize training data (about 100 M ratings; no longer distributed by Netflix — see
/// data-scripts/README.md for the copy a user must obtain). Two layouts are accepted:
/// <list type="bullet">
/// <item>the original <c>training_set/</c> folder of 17,770 per-movie files <c>mv_0000001.txt</c>, each starting
/// with a line <c>1:</c> followed by <c>CustomerID,Rating,YYYY-MM-DD</c> lines;</item>
/// <item>the <c>combined_data_1.txt</c> … <c>combined_data_4.txt</c> form of the public Kaggle mirror
/// ("netflix-prize-data"): many <c>MovieID:</c> sections in one file.</item>
/// </list>
/// Dates become unix seconds at 00:00 UTC. Reading streams every file once, with arrays sized exactly by a
/// fast vectorised pre-count of the records (newlines minus <c>MovieID:</c> lines), so 100 M ratings need
/// about 2 GB and no per-line allocation. An optional <c>movie_titles.csv</c> (Latin-1,
/// <c>MovieID,Year,Title</c>, where Title may contain commas and Year may be NULL) gives the catalog.
/// </summary>
internal static class NetflixPrize
{
    /// <summary>Reads a Netflix Prize copy: <paramref name="path"/> is a folder (holding <c>training_set/</c>,
    /// <c>mv_*.txt</c> files or <c>combined_data_*.txt</c> files) or one combined_data file.</summary>
    /// <exception cref="DatasetNotFoundException">No data files were found.</exception>
    /// <exception cref="DataFormatException">A file is malformed.</exception>
    public static Interactions Read(string path, string name = "netflix")
    {
        var files = FindFiles(path, out string? titles);
        return ReadFiles(files, titles, name);
    }

    /// <summary>Netflix Prize ratings: whole stars 1 to 5.</summary>
    public static RatingScale Stars { get; } = new(1, 5, 1);

    /// <summary>The data files of a Netflix Prize folder in reading order, and its movie_titles.csv if any.</summary>
    public static IReadOnlyList<string> FindFiles(string path, out string? titlesPath)
    {
        titlesPath = null;
        if (File.Exists(path)) return [path];
        var looked = new List<string>();
        foreach (var dir in new[] { Path.Combine(path, "training_set"), path, Path.Combine(path, "download", "training_set") })
        {
            looked.Add(Path.GetFullPath(Path.Combine(dir, "mv_*.txt")));
            if (!Directory.Exists(dir)) continue;
            var mv = Directory.GetFiles(dir, "mv_*.txt");
            if (mv.Length == 0) continue;
            Array.Sort(mv, StringComparer.Ordinal);   // names are zero-padded: ordinal order = movie order
            titlesPath = FindTitles(dir, Path.GetDirectoryName(Path.GetFullPath(dir))!);
            return mv;
        }
        looked.Add(Path.GetFullPath(Path.Combine(path, "combined_data_*.txt")));
        if (Directory.Exists(path))
        {
            var combined = Directory.GetFiles(path, "combined_data_*.txt")
                .Select(f => (f, n: int.TryParse(Path.GetFileNameWithoutExtension(f)["combined_data_".Length..], NumberStyles.None, CultureInfo.InvariantCulture, out int n) ? n : int.MaxValue))
                .OrderBy(p => p.n).ThenBy(p => p.f, StringComparer.Ordinal).Select(p => p.f).ToArray();
            if (combined.Length > 0)
            {
                titlesPath = FindTitles(path, path);
                return combined;
            }
        }
        throw new DatasetNotFoundException("netflix", looked);
    }

    private static string? FindTitles(params string[] dirs)
    {
        foreach (var d in dirs)
        {
            string p = Path.Combine(d, "movie_titles.csv");
            if (DatasetFiles.Optional(p)) return p;
            p = Path.Combine(d, "movie_titles.txt");
            if (DatasetFiles.Optional(p)) return p;
        }
        return null;
    }

    /// <summary>Reads the given data files in order (mv_*.txt or combined_data_*.txt form; they may be mixed).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static Interactions ReadFiles(IReadOnlyList<string> files, string? titlesPath = null, string name = "netflix")
    {
        if (files.Count == 0) throw new ArgumentException("No Netflix data files given.", nameof(files));
        long capacity = CountRecords(files);
        var b = new InteractionBuilder(rating: true, timestamp: true, capacity);
        var users = new IntIdInterner();
        var items = new IntIdInterner();
        var manifest = new StringBuilder();
        var prov = new Dictionary<string, string>();
        long bytes = 0;
        Span<Range> f = stackalloc Range[3];
        foreach (var file in files)
        {
            long? expectedMovie = MovieIdFromFileName(file);
            using var r = new LineReader(file);
            int item = -1;
            long dataLines = 0;
            while (r.TryReadLine(out var line))
            {
                if (line.Length == 0 || TextParse.IsBlank(line)) continue;
                var t = TextParse.TrimSpaces(line);
                if (t[^1] == (byte)':')
                {
                    long movie = TextParse.CheckId(r, TextParse.ParseId(r, t[..^1], "movie id of a 'MovieID:' line"), 1, int.MaxValue, "movie id");
                    if (expectedMovie is long em && movie != em)
                        throw r.Error($"header says movie {movie}, but the file name says movie {em}");
                    item = items.GetOrAdd(movie);
                    continue;
                }
                if (item < 0)
                    throw r.Error($"data line before the first 'MovieID:' line (is this a Netflix Prize file?): \"{TextParse.Preview(line)}\"");
                TextParse.SplitExact(r, line, ","u8, f);
                int user = users.GetOrAdd(TextParse.CheckId(r, TextParse.ParseId(r, line[f[0]], "customer id"), 1, int.MaxValue, "customer id"));
                float rating = TextParse.CheckRating(r, line[f[1]], TextParse.ParseRating(r, line[f[1]]), Stars);
                long ts = TextParse.CheckTimestamp(r, line[f[2]], TextParse.ParseDate(r, line[f[2]]), "date");
                b.Add(user, item, rating, ts);
                dataLines++;
            }
            if (r.LineNumber == 0) throw new DataFormatException(file, 0, "file is empty");
            if (item < 0) throw new DataFormatException(file, 0, "file has no 'MovieID:' line: not a Netflix Prize data file");
            if (dataLines == 0) throw new DataFormatException(file, 0, "file has no rating lines (only 'MovieID:' lines): truncated or not a Netflix Prize data file");
            string sha = r.Sha256Hex();
            bytes += r.BytesRead;
            manifest.Append(sha).Append("  ").Append(Path.GetFileName(file)).Append('\n');
            if (files.Count <= 16) prov[$"{Path.GetFileName(file)}.sha256"] = sha;
        }
        string main = files.Count == 1 ? files[0] : Path.GetDirectoryName(Path.GetFullPath(files[0]))!;
        prov[ProvenanceKeys.File] = Path.GetFullPath(main);
        prov[ProvenanceKeys.Sha256] = files.Count == 1
            ? manifest.ToString(0, 64)
            : Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(manifest.ToString())));
        if (files.Count > 1) prov["sha256.kind"] = "sha256 of the sha256sum-style manifest of the data files in reading order";
        prov["files"] = files.Count.ToString(CultureInfo.InvariantCulture);
        prov[ProvenanceKeys.Bytes] = bytes.ToString(CultureInfo.InvariantCulture);
        prov[ProvenanceKeys.Format] = "netflix prize (MovieID: sections of CustomerID,Rating,Date)";
        ItemCatalog? catalog = null;
        if (titlesPath is not null)
        {
            catalog = ReadTitles(titlesPath, out string tsha, out var enc);
            prov["items.file"] = Path.GetFullPath(titlesPath);
            prov["items.sha256"] = tsha;
            prov[ProvenanceKeys.ItemsEncoding] = enc.WebName;
        }
        return b.Build(name, users.ToIdMap(), items.ToIdMap(), catalog, prov);
    }

    private static long? MovieIdFromFileName(string file)
    {
        string n = Path.GetFileNameWithoutExtension(file);
        return n.StartsWith("mv_", StringComparison.Ordinal) && long.TryParse(n.AsSpan(3), NumberStyles.None, CultureInfo.InvariantCulture, out long id)
            ? id : null;
    }

    /// <summary>Number of data records: newlines minus "MovieID:" lines (data lines contain no ':'), plus a
    /// last line without a newline (which the reader then refuses). Vectorised byte counting, to size the arrays; an upper
    /// bound on malformed input.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static long CountRecords(IReadOnlyList<string> files)
    {
        long total = 0;
        var buf = new byte[1 << 20];
        foreach (var file in files)
        {
            using var fs = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
            long newlines = 0, colons = 0;
            byte last = (byte)'\n';
            int n;
            while ((n = fs.Read(buf, 0, buf.Length)) > 0)
            {
                var s = buf.AsSpan(0, n);
                newlines += s.Count((byte)'\n');
                colons += s.Count((byte)':');
                last = s[^1];
            }
            total += Math.Max(0, newlines - colons + (last != (byte)'\n' ? 1 : 0));
        }
        return total;
    }

    /// <summary>Reads movie_titles.csv: "MovieID,Year,Title" where Title is the rest of the line.</summary>
    internal static ItemCatalog ReadTitles(string path, out string sha256, out Encoding encoding)
    {
        byte[] bytes = File.ReadAllBytes(path);
        encoding = TextParse.DetectUtf8OrLatin1(bytes);
        using var r = new LineReader(new MemoryStream(bytes, writable: false), path);
        var catalog = new ItemCatalog(Array.Empty<string>());
        var seen = new HashSet<long>();
        while (r.TryReadLine(out var line))
        {
            if (TextParse.IsBlank(line)) continue;
            int a = line.IndexOf((byte)',');
            int b = a < 0 ? -1 : line[(a + 1)..].IndexOf((byte)',');
            if (a < 0 || b < 0) throw TextParse.FieldCountError(r, line, ","u8, 3, a < 0 ? 1 : 2, atLeast: true);
            b += a + 1;
            long id = TextParse.ParseId(r, line[..a], "movie id");
            if (!seen.Add(id)) throw r.Error($"movie id {id} appears twice");
            var yearField = TextParse.TrimSpaces(line[(a + 1)..b]);
            int? year = null;
            if (!yearField.SequenceEqual("NULL"u8) && yearField.Length > 0)
            {
                long y = TextParse.ParseId(r, yearField, "year");
                if (y > 9999) throw r.Error($"year {y} is not a year");
                year = (int)y;
            }
            string title = encoding.GetString(line[(b + 1)..]).Trim();
            catalog.Add(new ItemInfo(id.ToString(CultureInfo.InvariantCulture), title, Array.Empty<string>(), year));
        }
        if (catalog.Count == 0) throw new DataFormatException(path, 0, "file is empty");
        sha256 = r.Sha256Hex();
        return catalog;
    }
}
