namespace Lrml.Data;

/// <summary>
/// A dataset of user–item interactions in columnar form: parallel arrays of user index, item index and,
/// where the file has them, rating and timestamp. Indices are contiguous and 0-based; <see cref="Users"/>
/// and <see cref="Items"/> map them back to the raw ids of the file so tables and plots can name real
/// users and movies. Instances are immutable by convention: preprocessing returns new instances.
/// </summary>
public sealed class Interactions
{
    /// <summary>Short dataset name, e.g. "ml-100k".</summary>
    public string Name { get; }

    /// <summary>User index of each interaction.</summary>
    public int[] User { get; }

    /// <summary>Item index of each interaction.</summary>
    public int[] Item { get; }

    /// <summary>Explicit rating of each interaction, or null when the file has none.</summary>
    public float[]? Rating { get; }

    /// <summary>Unix timestamp (seconds) of each interaction, or null when the file has none.</summary>
    public long[]? Timestamp { get; }

    /// <summary>Raw user ids.</summary>
    public IdMap Users { get; }

    /// <summary>Raw item ids.</summary>
    public IdMap Items { get; }

    /// <summary>Item side information (titles, genres), or null.</summary>
    public ItemCatalog? Catalog { get; }

    /// <summary>Where the data came from (file paths, checksums), for provenance records.</summary>
    public IReadOnlyDictionary<string, string> Provenance { get; }

    public Interactions(string name, int[] user, int[] item, float[]? rating, long[]? timestamp,
        IdMap users, IdMap items, ItemCatalog? catalog = null, IReadOnlyDictionary<string, string>? provenance = null)
    {
        if (user.Length != item.Length) throw new ArgumentException("user and item arrays differ in length.");
        if (rating is not null && rating.Length != user.Length) throw new ArgumentException("rating array length differs.");
        if (timestamp is not null && timestamp.Length != user.Length) throw new ArgumentException("timestamp array length differs.");
        Name = name; User = user; Item = item; Rating = rating; Timestamp = timestamp;
        Users = users; Items = items; Catalog = catalog;
        Provenance = provenance ?? new Dictionary<string, string>();
    }

    /// <summary>Number of interactions.</summary>
    public int Count => User.Length;

    /// <summary>Number of distinct users (size of the user index space).</summary>
    public int NumUsers => Users.Count;

    /// <summary>Number of distinct items (size of the item index space).</summary>
    public int NumItems => Items.Count;

    public bool HasRatings => Rating is not null;
    public bool HasTimestamps => Timestamp is not null;

    public override string ToString() =>
        $"{Name}: {NumUsers:N0} users × {NumItems:N0} items, {Count:N0} interactions" +
        (HasRatings ? ", ratings" : "") + (HasTimestamps ? ", timestamps" : "");
}
