using System.Globalization;

namespace Lrml.Data;

/// <summary>
/// Reader of the CSV MovieLens releases (ML-20M, ML-25M, ML-32M, ml-latest, ml-latest-small):
/// <c>ratings.csv</c> with header <c>userId,movieId,rating,timestamp</c> (half-star ratings) and
/// <c>movies.csv</c> with header <c>movieId,title,genres</c> (RFC-4180 quoting for titles with commas or
/// quotes; <c>|</c>-separated genres; "(no genres listed)" means none). The catalog holds every movie of
/// movies.csv, including unrated ones.
/// </summary>
internal static class MovieLensCsv
{
    /// <summary>The format of ratings.csv.</summary>
    public static DelimitedFormat RatingsFormat { get; } = new()
    {
        Separator = ",", HasHeader = true, ExpectedHeader = "userId,movieId,rating,timestamp",
        FieldCount = 4, RatingColumn = 2, TimestampColumn = 3, BytesPerLineHint = 25,
        RatingScale = MovieLens1M.HalfStars, MinId = 1, MaxId = int.MaxValue,
    };

    /// <summary>Reads the dataset in <paramref name="directory"/> (e.g. the unpacked "ml-20m").</summary>
    /// <exception cref="DatasetNotFoundException">ratings.csv is missing.</exception>
    /// <exception cref="DataFormatException">A file is malformed.</exception>
    public static Interactions Read(string directory, string name = "ml-20m")
    {
        string data = DatasetFiles.Require(directory, name, "ratings.csv");
        var core = DelimitedReader.ReadCore(data, RatingsFormat);
        var prov = DatasetFiles.MainProvenance(data, core, "movielens ratings.csv");
        ItemCatalog? catalog = null;
        string moviesPath = Path.Combine(directory, "movies.csv");
        if (DatasetFiles.Optional(moviesPath))
        {
            catalog = ReadMovies(moviesPath, out string sha, out string enc);
            prov["items.file"] = Path.GetFullPath(moviesPath);
            prov["items.sha256"] = sha;
            prov[ProvenanceKeys.ItemsEncoding] = enc;
        }
        return core.Builder.Build(name, core.Users, core.Items, catalog, prov);
    }

    /// <summary>Reads movies.csv into a catalog.</summary>
    internal static ItemCatalog ReadMovies(string path, out string sha256, out string encodingName)
    {
        byte[] bytes = File.ReadAllBytes(path);
        if (bytes.Length == 0) throw new DataFormatException(path, 0, "file is empty");
        sha256 = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes));
        int nul = Array.IndexOf(bytes, (byte)0);
        if (nul >= 0)
            throw new DataFormatException(path, bytes.AsSpan(0, nul).Count((byte)'\n') + 1,
                "line contains a NUL byte: this is binary data (a compressed archive or a UTF-16 file?), not a text data file");
        var enc = TextParse.DetectUtf8OrLatin1(bytes);
        encodingName = enc.WebName;
        var records = Csv.Parse(enc.GetString(bytes), path);
        if (records.Count == 0) throw new DataFormatException(path, 0, "file is empty");
        // like every file the kit reads, a last line without its line end may be a partly written one (CSV also ends lines in CR)
        if (bytes[^1] is not ((byte)'\n' or (byte)'\r') && !TextParse.IsBlank(bytes.AsSpan(bytes.AsSpan().LastIndexOfAny((byte)'\n', (byte)'\r') + 1)))
            throw new DataFormatException(path, records[^1].Line, LineReader.UnterminatedReason);
        var header = records[0].Fields.Select(h => h.Trim()).ToArray();
        if (header.Length != 3 || !header[0].Equals("movieId", StringComparison.OrdinalIgnoreCase)
            || !header[1].Equals("title", StringComparison.OrdinalIgnoreCase) || !header[2].Equals("genres", StringComparison.OrdinalIgnoreCase))
            throw new DataFormatException(path, records[0].Line, $"unexpected header: expected \"movieId,title,genres\", found \"{Shorten(string.Join(",", records[0].Fields))}\"");
        var genres = new GenreCollector([]);
        var movies = new List<ItemInfo>(records.Count);
        var seen = new HashSet<long>();
        for (int k = 1; k < records.Count; k++)
        {
            var rec = records[k];
            if (rec.Fields.Length != 3)
                throw new DataFormatException(path, rec.Line, rec.Fields.Length == 1
                    ? $"wrong separator: expected 3 fields separated by ',', but the line contains no ','; the line looks like \"{Shorten(rec.Fields[0])}\""
                    : $"wrong field count: expected 3 fields separated by ',' (titles with commas must be quoted), found {rec.Fields.Length}: \"{Shorten(string.Join(",", rec.Fields))}\"");
            var idText = rec.Fields[0].Trim();
            if (idText.Length == 0 || idText.Length > 18 || !idText.All(char.IsAsciiDigit))
            {
                var raw = enc.GetBytes(idText);     // the bytes of the file (Latin-1 or valid UTF-8 round-trips)
                int bad = raw.AsSpan().IndexOfAnyExceptInRange((byte)0x20, (byte)0x7E);
                throw new DataFormatException(path, rec.Line, bad >= 0 ? TextParse.BadByteReason(raw, bad, 0, "movie id")
                    : $"movie id \"{Shorten(idText, 40)}\" is not numeric (integer ids expected)");
            }
            long id = long.Parse(idText, CultureInfo.InvariantCulture);
            if (!seen.Add(id)) throw new DataFormatException(path, rec.Line, $"movie id {id} appears twice");
            string title = rec.Fields[1].Trim();
            movies.Add(new ItemInfo(id.ToString(CultureInfo.InvariantCulture), title, genres.Parse(rec.Fields[2]), TextParse.YearFromTitle(title)));
        }
        if (movies.Count == 0) throw new DataFormatException(path, 0, "file has no data lines (only a header)");
        var catalog = new ItemCatalog(genres.Names);
        foreach (var m in movies) catalog.Add(m);
        return catalog;
    }

    /// <summary>At most <paramref name="max"/> characters of a text for an error message.</summary>
    private static string Shorten(string s, int max = 120) => s.Length <= max ? s : s[..max] + "…";
}
