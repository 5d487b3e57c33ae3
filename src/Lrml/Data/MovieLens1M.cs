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
internal static class MovieLens1M
{
    /// <summary>The 18 genres of the ML-1M README, in its order (ML-10M adds "IMAX", appended when seen).</summary>
    public static IReadOnlyList<string> DefaultGenres { get; } =
    [
        "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama", "Fantasy",
        "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
    ];

    /// <summary>MovieLens star ratings from ML-10M on: 0.5 to 5 in half stars (ML-1M's whole stars 1–5 are on it too).
    /// (Declared before the formats that use it: static initialisers run in order.)</summary>
    public static RatingScale HalfStars { get; } = new(0.5f, 5, 0.5f);

    /// <summary>The format of ratings.dat.</summary>
    public static DelimitedFormat RatingsFormat { get; } = new()
    {
        Separator = "::", FieldCount = 4, RatingColumn = 2, TimestampColumn = 3, BytesPerLineHint = 24,
        RatingScale = HalfStars, MinId = 1, MaxId = int.MaxValue,
    };

    /// <summary>The format of ratings_implicit.dat (ratings.dat without rating and timestamp).</summary>
    public static DelimitedFormat ImplicitFormat { get; } = new() { Separator = "::", FieldCount = 2, BytesPerLineHint = 10, MinId = 1, MaxId = int.MaxValue };


    /// <summary>Reads the dataset in <paramref name="directory"/> (e.g. the unpacked "ml-1m" or "ml-10M100K").</summary>
    /// <exception cref="DatasetNotFoundException">Neither ratings.dat nor ratings_implicit.dat exists.</exception>
    /// <exception cref="DataFormatException">A file is malformed.</exception>
    public static Interactions Read(string directory, string name = "ml-1m")
    {
        string data = DatasetFiles.Require(directory, name, "ratings.dat", "ratings_implicit.dat");
        bool implicitOnly = Path.GetFileName(data) == "ratings_implicit.dat";
        var core = DelimitedReader.ReadCore(data, implicitOnly ? ImplicitFormat : RatingsFormat);
        string implicitPath = Path.Combine(directory, "ratings_implicit.dat");
        if (!implicitOnly && DatasetFiles.Optional(implicitPath)) CheckSameRows(data, core, implicitPath);
        var prov = DatasetFiles.MainProvenance(data, core, implicitOnly ? "movielens ratings_implicit.dat (UserID::MovieID)" : "movielens ratings.dat");
        ItemCatalog? catalog = null;
        string moviesPath = Path.Combine(directory, "movies.dat");
        if (DatasetFiles.Optional(moviesPath))
        {
            catalog = ReadMovies(moviesPath, out string sha, out var enc);
            prov["items.file"] = Path.GetFullPath(moviesPath);
            prov["items.sha256"] = sha;
            prov[ProvenanceKeys.ItemsEncoding] = enc.WebName;
        }
        return core.Builder.Build(name, core.Users, core.Items, catalog, prov);
    }

    /// <summary>
    /// When both files are present the kit reads ratings.dat (it has ratings and timestamps), but only if
    /// ratings_implicit.dat lists exactly its (UserID, MovieID) rows in the same order: a truncated or edited copy of either
    /// is an error naming both, never a silent choice (and never a later, misleading error about the NCF test files).
    /// </summary>
    private static void CheckSameRows(string ratingsPath, DelimitedReader.CoreResult ratings, string implicitPath)
    {
        var other = DelimitedReader.ReadCore(implicitPath, ImplicitFormat);
        int n = Math.Min(ratings.Builder.Count, other.Builder.Count);
        int first = -1;
        for (int k = 0; k < n && first < 0; k++)
        {
            var (u, i) = ratings.Builder.Row(k);
            var (u2, i2) = other.Builder.Row(k);
            if (ratings.Users[u] != other.Users[u2] || ratings.Items[i] != other.Items[i2]) first = k;
        }
        if (first < 0 && ratings.Builder.Count == other.Builder.Count) return;
        string Row(DelimitedReader.CoreResult c, int k) { var (u, i) = c.Builder.Row(k); return $"{c.Users[u]}::{c.Items[i]}"; }
        string what = first >= 0
            ? $"data row {first + 1:N0} is {Row(ratings, first)} in ratings.dat but {Row(other, first)} in ratings_implicit.dat"
            : $"ratings.dat has {ratings.Builder.Count:N0} data rows and ratings_implicit.dat {other.Builder.Count:N0} (the shorter one is truncated?)";
        throw new DataFormatException(ratingsPath, 0,
            $"disagrees with {implicitPath}, which must list the same (UserID, MovieID) rows in the same order: {what}. " +
            "Remove the wrong file (data-scripts/fetch.sh ml-1m fetches a verified ratings.dat)");
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
