using System.Globalization;
using System.Text;

namespace Lrml.Data;

/// <summary>
/// Reader of MovieLens-100K (GroupLens, folder "ml-100k"): <c>u.data</c> (TAB-separated
/// <c>user item rating timestamp</c>), plus the item catalog from <c>u.item</c> (<c>|</c>-separated, Latin-1:
/// id | title | release date | video release date | IMDb URL | 19 genre flags) and genre names from
/// <c>u.genre</c> when present.
/// </summary>
internal static class MovieLens100K
{
    /// <summary>The 19 genres of u.item's flag columns, in column order (used when u.genre is absent).</summary>
    public static IReadOnlyList<string> DefaultGenres { get; } =
    [
        "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama",
        "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
    ];

    /// <summary>The format of u.data.</summary>
    public static DelimitedFormat RatingsFormat { get; } = new()
    {
        Separator = "\t", FieldCount = 4, UserColumn = 0, ItemColumn = 1, RatingColumn = 2, TimestampColumn = 3,
        BytesPerLineHint = 19, RatingScale = new RatingScale(1, 5, 1), MinId = 1, MaxId = int.MaxValue,
    };

    /// <summary>Reads the dataset in <paramref name="directory"/> (the unpacked "ml-100k" folder).</summary>
    /// <exception cref="DatasetNotFoundException">u.data is missing.</exception>
    /// <exception cref="DataFormatException">A file is malformed.</exception>
    public static Interactions Read(string directory, string name = "ml-100k")
    {
        string data = DatasetFiles.Require(directory, "ml-100k", "u.data");
        var core = DelimitedReader.ReadCore(data, RatingsFormat);
        var prov = DatasetFiles.MainProvenance(data, core, "movielens-100k u.data");

        IReadOnlyList<string> genres = DefaultGenres;
        string genrePath = Path.Combine(directory, "u.genre");
        if (DatasetFiles.Optional(genrePath))
        {
            genres = ReadGenres(genrePath, out string gsha);
            prov["genres.file"] = Path.GetFullPath(genrePath);
            prov["genres.sha256"] = gsha;
        }
        ItemCatalog? catalog = null;
        string itemPath = Path.Combine(directory, "u.item");
        if (DatasetFiles.Optional(itemPath))
        {
            catalog = ReadItems(itemPath, genres, out string isha, out var enc);
            prov["items.file"] = Path.GetFullPath(itemPath);
            prov["items.sha256"] = isha;
            prov[ProvenanceKeys.ItemsEncoding] = enc.WebName;
        }
        return core.Builder.Build(name, core.Users, core.Items, catalog, prov);
    }

    /// <summary>Reads u.genre ("name|index" lines) into names ordered by index.</summary>
    internal static IReadOnlyList<string> ReadGenres(string path, out string sha256)
    {
        using var r = new LineReader(path);
        var byIndex = new SortedDictionary<int, string>();
        Span<Range> f = stackalloc Range[2];
        while (r.TryReadLine(out var line))
        {
            if (TextParse.IsBlank(line)) continue;
            TextParse.SplitExact(r, line, "|"u8, f);
            long rawIndex = TextParse.ParseId(r, line[f[1]], "genre index");
            if (rawIndex > 63) throw r.Error($"genre index {rawIndex} is out of range (u.item has at most 64 genre flags)");
            int index = (int)rawIndex;
            string genre = Encoding.Latin1.GetString(line[f[0]]).Trim();
            if (genre.Length == 0) throw r.Error("genre name is empty");
            if (!byIndex.TryAdd(index, genre)) throw r.Error($"genre index {index} appears twice");
        }
        if (byIndex.Count == 0) throw new DataFormatException(path, 0, "file is empty");
        int expect = 0;
        foreach (int k in byIndex.Keys)
            if (k != expect++) throw new DataFormatException(path, 0, $"genre indices must run 0..{byIndex.Count - 1} without gaps; index {expect - 1} is missing");
        sha256 = r.Sha256Hex();
        return byIndex.Values.ToArray();
    }

    /// <summary>Reads u.item into a catalog (titles decoded as UTF-8 when the file is valid UTF-8, else Latin-1).</summary>
    internal static ItemCatalog ReadItems(string path, IReadOnlyList<string> genres, out string sha256, out Encoding encoding)
    {
        byte[] bytes = File.ReadAllBytes(path);
        encoding = TextParse.DetectUtf8OrLatin1(bytes);
        using var r = new LineReader(new MemoryStream(bytes, writable: false), path);
        var catalog = new ItemCatalog(genres);
        int fieldCount = 5 + genres.Count;
        Span<Range> f = stackalloc Range[fieldCount];
        var seen = new HashSet<long>();
        while (r.TryReadLine(out var line))
        {
            if (TextParse.IsBlank(line)) continue;
            TextParse.SplitExact(r, line, "|"u8, f);
            long id = TextParse.ParseId(r, line[f[0]], "movie id");
            if (!seen.Add(id)) throw r.Error($"movie id {id} appears twice");
            string title = encoding.GetString(line[f[1]]).Trim();
            var list = new List<string>();
            for (int g = 0; g < genres.Count; g++)
            {
                var flag = TextParse.TrimSpaces(line[f[5 + g]]);
                if (flag.Length != 1 || (flag[0] != (byte)'0' && flag[0] != (byte)'1'))
                    throw r.Error($"genre flag {g + 1} ({genres[g]}) is \"{TextParse.Preview(flag, 20)}\", expected 0 or 1");
                if (flag[0] == (byte)'1') list.Add(genres[g]);
            }
            int? year = TextParse.YearFromTitle(title) ?? YearFromReleaseDate(Encoding.ASCII.GetString(line[f[2]]).Trim());
            catalog.Add(new ItemInfo(id.ToString(CultureInfo.InvariantCulture), title, list, year));
        }
        if (catalog.Count == 0) throw new DataFormatException(path, 0, "file is empty");
        sha256 = r.Sha256Hex();
        return catalog;
    }

    private static int? YearFromReleaseDate(string date) =>
        DateTime.TryParseExact(date, "dd-MMM-yyyy", CultureInfo.InvariantCulture, DateTimeStyles.None, out var d) ? d.Year : null;
}
