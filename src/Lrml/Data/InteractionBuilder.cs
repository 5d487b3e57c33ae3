namespace Lrml.Data;

/// <summary>
/// Growable columnar buffers for interactions while a file is read: one array per column, grown by ×1.5
/// from an estimate of the number of lines, trimmed to the exact count at the end.
/// </summary>
internal sealed class InteractionBuilder
{
    private int[] _user, _item;
    private float[]? _rating;
    private long[]? _time;

    public int Count { get; private set; }
    public bool HasRating => _rating is not null;
    public bool HasTimestamp => _time is not null;

    public InteractionBuilder(bool rating, bool timestamp, long capacityHint)
    {
        int cap = (int)Math.Clamp(capacityHint, 16, Array.MaxLength);
        _user = new int[cap];
        _item = new int[cap];
        _rating = rating ? new float[cap] : null;
        _time = timestamp ? new long[cap] : null;
    }

    /// <summary>A capacity estimate from a file size and a typical number of bytes per line.</summary>
    public static long Estimate(long fileBytes, int bytesPerLine) => fileBytes / Math.Max(1, bytesPerLine) + 16;

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public void Add(int user, int item, float rating, long timestamp)
    {
        int k = Count;
        if ((uint)k >= (uint)_user.Length) Grow();
        Count = k + 1;
        _user[k] = user;
        _item[k] = item;
        if (_rating is not null) _rating[k] = rating;
        if (_time is not null) _time[k] = timestamp;
    }

    /// <summary>The (user, item) indices of row <paramref name="k"/> (0-based, below <see cref="Count"/>).</summary>
    public (int User, int Item) Row(int k) => (uint)k < (uint)Count ? (_user[k], _item[k]) : throw new ArgumentOutOfRangeException(nameof(k));

    private void Grow()
    {
        long next = Math.Min(Array.MaxLength, Math.Max(16L, _user.Length + (long)_user.Length / 2));
        if (next <= _user.Length) throw new InvalidOperationException("More interactions than an array can hold.");
        Array.Resize(ref _user, (int)next);
        Array.Resize(ref _item, (int)next);
        if (_rating is not null) Array.Resize(ref _rating, (int)next);
        if (_time is not null) Array.Resize(ref _time, (int)next);
    }

    /// <summary>Builds the dataset; arrays are trimmed to the exact count.</summary>
    public Interactions Build(string name, IdMap users, IdMap items, ItemCatalog? catalog, IReadOnlyDictionary<string, string> provenance)
    {
        if (_user.Length != Count)
        {
            Array.Resize(ref _user, Count);
            Array.Resize(ref _item, Count);
            if (_rating is not null) Array.Resize(ref _rating, Count);
            if (_time is not null) Array.Resize(ref _time, Count);
        }
        return new Interactions(name, _user, _item, _rating, _time, users, items, catalog, provenance);
    }
}

/// <summary>
/// Keys of <see cref="Interactions.Provenance"/> written by the kit's readers and preprocessing steps.
/// Side files add the same keys with a prefix, e.g. "items.file", "items.sha256".
/// </summary>
internal static class ProvenanceKeys
{
    /// <summary>Full path of the main interaction file (or folder for multi-file formats).</summary>
    public const string File = "file";
    /// <summary>Lower-case hex SHA-256 of the main file (for multi-file formats: of the sha256sum-style manifest).</summary>
    public const string Sha256 = "sha256";
    /// <summary>Size of the main file(s) in bytes.</summary>
    public const string Bytes = "bytes";
    /// <summary>Name of the format/reader, e.g. "movielens-100k u.data".</summary>
    public const string Format = "format";
    /// <summary>Text encoding used for titles of the item metadata file.</summary>
    public const string ItemsEncoding = "items.encoding";
    /// <summary>Semicolon-separated log of preprocessing steps applied after reading.</summary>
    public const string Preprocessing = "preprocessing";
}
