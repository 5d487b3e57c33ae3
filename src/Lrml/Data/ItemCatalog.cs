namespace Lrml.Data;

/// <summary>Side information about items, keyed by raw item id: title, genres, year when known.</summary>
public sealed class ItemCatalog
{
    private readonly Dictionary<string, ItemInfo> _byRaw = new(StringComparer.Ordinal);

    /// <summary>Genre names in their canonical order (e.g. the 19 MovieLens-100K genres).</summary>
    public IReadOnlyList<string> GenreNames { get; }

    public ItemCatalog(IReadOnlyList<string> genreNames) => GenreNames = genreNames;

    public int Count => _byRaw.Count;

    public void Add(ItemInfo info) => _byRaw[info.RawId] = info;

    public bool TryGet(string rawId, out ItemInfo info) => _byRaw.TryGetValue(rawId, out info!);

    public IEnumerable<ItemInfo> All => _byRaw.Values;

    /// <summary>Title of a raw id, or the id itself when unknown.</summary>
    public string TitleOf(string rawId) => _byRaw.TryGetValue(rawId, out var i) ? i.Title : rawId;
}

/// <summary>One item's side information.</summary>
/// <param name="RawId">Identifier as in the data file.</param>
/// <param name="Title">Human-readable title (decoded from Latin-1 where the file uses it).</param>
/// <param name="Genres">Genre names, possibly empty.</param>
/// <param name="Year">Release year when it can be read, else null.</param>
public sealed record ItemInfo(string RawId, string Title, IReadOnlyList<string> Genres, int? Year = null);
