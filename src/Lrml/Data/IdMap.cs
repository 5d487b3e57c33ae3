namespace Lrml.Data;

/// <summary>
/// A bijection between raw identifiers as they appear in a data file (e.g. MovieLens MovieID "1193")
/// and contiguous 0-based indices. Indices are assigned in order of first appearance, which is also how
/// the public NCF files number MovieLens-1M items.
/// </summary>
public sealed class IdMap
{
    private readonly List<string> _raw = new();
    private readonly Dictionary<string, int> _index = new(StringComparer.Ordinal);

    public IdMap() { }

    /// <summary>Builds a map whose index k is <paramref name="raw"/>[k].</summary>
    public IdMap(IEnumerable<string> raw)
    {
        foreach (var r in raw)
            if (!_index.TryAdd(r, _raw.Count)) throw new ArgumentException($"Duplicate raw id '{r}'.", nameof(raw));
            else _raw.Add(r);
    }

    /// <summary>Number of distinct ids.</summary>
    public int Count => _raw.Count;

    /// <summary>The raw id of an index.</summary>
    public string this[int index] => _raw[index];

    /// <summary>All raw ids in index order.</summary>
    public IReadOnlyList<string> Raw => _raw;

    /// <summary>The index of a raw id, adding it when new.</summary>
    public int GetOrAdd(string raw)
    {
        if (_index.TryGetValue(raw, out int i)) return i;
        i = _raw.Count;
        _index.Add(raw, i);
        _raw.Add(raw);
        return i;
    }

    /// <summary>Looks up a raw id.</summary>
    public bool TryGetIndex(string raw, out int index) => _index.TryGetValue(raw, out index);

    /// <summary>The index of a raw id; throws <see cref="KeyNotFoundException"/> when absent.</summary>
    public int IndexOf(string raw) =>
        _index.TryGetValue(raw, out int i) ? i : throw new KeyNotFoundException($"Unknown id '{raw}'.");
}
