using System.Globalization;
using System.Text;

namespace Lrml.Data;

/// <summary>
/// Reader of MovieLens-1M and MovieLens-10M ("::"-separated files). Interactions come from
/// <c>ratings.dat</c> (<c>UserID::MovieID::Rating::Timestamp</c>) or, when that file is absent, from the
/// rating-less <c>ratings_implicit.dat</c> (<c>UserID::MovieID</c>, same rows, same order). The file order is
/// preserved: item index k is the k-th distinct MovieID in the file, which is exactly how the public NCF
/// split numbers ML-1M items (1193 → 0, 661 → 1, 914 → 2, 3408 → 3). The catalog comes from
/// <c>movies.dat</c> (<c>MovieID::Title::Genres</c>; Latin-1 in ML-1M, UTF-8 in later releases: detected).
/// </summary>
public static class MovieLens1M
{
    /// <summary>The 18 genres of the ML-1M README, in its order (ML-10M adds "IMAX", appended when seen).</summary>
    public static IReadOnlyList<string> DefaultGenres { get; } =
    [
        "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama", "Fantasy",
        "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
    ];

    /// <summary>The format of ratings.dat.</summary>
    public static DelimitedFormat RatingsFormat { get; } = new()
    {
        Separator = "::", FieldCount = 4, RatingColumn = 2, TimestampColumn = 3, BytesPerLineHint = 24,
    };

    /// <summary>The format of ratings_implicit.dat (ratings.dat without rating and timestamp).</summary>
    public static DelimitedFormat ImplicitFormat { get; } = new() { Separator = "::", FieldCount = 2, BytesPerLineHint = 10 };

    /// <summary>Reads the dataset in <paramref name="directory"/> (e.g. the unpacked "ml-1m" or "ml-10M100K").</summary>
    /// <exception cref="DatasetNotFoundException">Neither ratings.dat nor ratings_implicit.dat exists.</exception>
    /// <exception cref="DataFormatException">A file is malformed.</exception>
    public static Interactions Read(string directory, string name = "ml-1m")
    {
        string data = DatasetFiles.Require(directory, name, "ratings.dat", "ratings_implicit.dat");
        bool implicitOnly = Path.GetFileName(data) == "ratings_implicit.dat";
        var core = DelimitedReader.ReadCore(data, implicitOnly ? ImplicitFormat : RatingsFormat);
        var prov = DatasetFiles.MainProvenance(data, core, implicitOnly ? "movielens ratings_implicit.dat (UserID::MovieID)" : "movielens ratings.dat");
        ItemCatalog? catalog = null;
        string moviesPath = Path.Combine(directory, "movies.dat");
        if (File.Exists(moviesPath))
        {
            catalog = ReadMovies(moviesPath, out string sha, out var enc);
            prov["items.file"] = Path.GetFullPath(moviesPath);
            prov["items.sha256"] = sha;
            prov[ProvenanceKeys.ItemsEncoding] = enc.WebName;
        }
        return core.Builder.Build(name, core.Users, core.Items, catalog, prov);
    }

    /// <summary>Reads movies.dat. The title is everything between the first and the last "::".</summary>
    internal static ItemCatalog ReadMovies(string path, out string sha256, out Encoding encoding)
    {
        byte[] bytes = File.ReadAllBytes(path);
        encoding = TextParse.DetectUtf8OrLatin1(bytes);
        using var r = new LineReader(new MemoryStream(bytes, writable: false), path);
        var movies = new List<ItemInfo>();
        var genres = new GenreCollector(DefaultGenres);
        var seen = new HashSet<long>();
        ReadOnlySpan<byte> sep = "::"u8;
        while (r.TryReadLine(out var line))
        {
            if (TextParse.IsBlank(line)) continue;
            int a = line.IndexOf(sep), b = line.LastIndexOf(sep);
            if (a < 0 || b < a + sep.Length) throw TextParse.FieldCountError(r, line, sep, 3, a < 0 ? 1 : 2, atLeast: false);
            long id = TextParse.ParseId(r, line[..a], "movie id");
            if (!seen.Add(id)) throw r.Error($"movie id {id} appears twice");
            string title = encoding.GetString(line[(a + 2)..b]).Trim();
            string genreField = encoding.GetString(line[(b + 2)..]);
            movies.Add(new ItemInfo(id.ToString(CultureInfo.InvariantCulture), title, genres.Parse(genreField), TextParse.YearFromTitle(title)));
        }
        if (movies.Count == 0) throw new DataFormatException(path, 0, "file is empty");
        sha256 = r.Sha256Hex();
        var catalog = new ItemCatalog(genres.Names);
        foreach (var m in movies) catalog.Add(m);
        return catalog;
    }
}

/// <summary>Parses MovieLens "|"-separated genre lists, keeping a canonical order of genre names (known ones
/// first, then new ones in order of first appearance). "(no genres listed)" means no genre.</summary>
internal sealed class GenreCollector
{
    private readonly List<string> _names;
    private readonly Dictionary<string, string> _interned = new(StringComparer.Ordinal);

    public GenreCollector(IEnumerable<string> known)
    {
        _names = new List<string>();
        foreach (var g in known) { _names.Add(g); _interned[g] = g; }
    }

    public IReadOnlyList<string> Names => _names;

    public IReadOnlyList<string> Parse(string field)
    {
        field = field.Trim();
        if (field.Length == 0 || field == "(no genres listed)") return Array.Empty<string>();
        var parts = field.Split('|', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var list = new string[parts.Length];
        for (int k = 0; k < parts.Length; k++)
        {
            if (!_interned.TryGetValue(parts[k], out var g))
            {
                g = parts[k];
                _interned[g] = g;
                _names.Add(g);
            }
            list[k] = g;
        }
        return list;
    }
}
