using System.Globalization;
using System.Security.Cryptography;
using Lrml.Util;

namespace Lrml.Data;

/// <summary>
/// Options of <see cref="SyntheticData.Generate"/>. The defaults make the kit's embedded dataset: about
/// 1,000 users × 500 items × 30 interactions per user, generated in a few milliseconds.
/// </summary>
internal sealed record SyntheticOptions
{
    /// <summary>Number of users.</summary>
    public int Users { get; init; } = 1000;
    /// <summary>Number of items.</summary>
    public int Items { get; init; } = 500;
    /// <summary>Number of planted relation types R (the "rating-like" label of each interaction).</summary>
    public int RelationTypes { get; init; } = 4;
    /// <summary>Dimension of the latent space of users, items and relations.</summary>
    public int Dim { get; init; } = 16;
    /// <summary>Mean number of interactions per user (log-normal spread, see <see cref="ActivitySpread"/>).</summary>
    public int InteractionsPerUser { get; init; } = 30;
    /// <summary>σ of the log-normal spread of per-user counts (0: every user has exactly the mean).</summary>
    public double ActivitySpread { get; init; } = 0.5;
    /// <summary>Fewest interactions per user.</summary>
    public int MinInteractionsPerUser { get; init; } = 5;
    /// <summary>How many relation types each user mixes (a random subset, Dirichlet(1) weights).</summary>
    public int TypesPerUser { get; init; } = 2;
    /// <summary>Fraction of interactions whose item is uniform at random instead of planted (flagged as noise).</summary>
    public double Noise { get; init; } = 0.05;
    /// <summary>Temperature τ of the choice model P(i | u, z) ∝ exp(−‖p_u + t_z − q_i‖² / τ); smaller is sharper.</summary>
    public double Temperature { get; init; } = 0.05;
    /// <summary>Number of item clusters (the planted "genres").</summary>
    public int Clusters { get; init; } = 8;
    /// <summary>Spread of items around their cluster centre, relative to the spread of the centres.</summary>
    public double ClusterSpread { get; init; } = 0.5;
    /// <summary>Length of every relation vector t_z (users and item centres have expected length ≈ 1).</summary>
    public double RelationScale { get; init; } = 1.5;
    /// <summary>Unix time (seconds) of the start of the observation period.</summary>
    public long StartTime { get; init; } = 1_420_070_400;   // 2015-01-01T00:00:00Z
    /// <summary>Length of the observation period in seconds.</summary>
    public long PeriodSeconds { get; init; } = 365L * 86400;
    /// <summary>σ of an interaction's time around its type's centre, as a fraction of the period (time partly encodes the type).</summary>
    public double TimeJitter { get; init; } = 0.15;
    /// <summary>Seed of every random decision.</summary>
    public long Seed { get; init; } = 42;

    internal void Validate()
    {
        if (Users < 1 || Items < 2 || RelationTypes < 1 || Dim < 1 || Clusters < 1) throw new ArgumentException("Users ≥ 1, Items ≥ 2, RelationTypes, Dim and Clusters ≥ 1 are required.");
        if (InteractionsPerUser < 1 || MinInteractionsPerUser < 1) throw new ArgumentException("Interactions per user must be positive.");
        if (TypesPerUser < 1) throw new ArgumentException("TypesPerUser must be ≥ 1.");
        if (Noise is < 0 or > 1 || double.IsNaN(Noise)) throw new ArgumentException("Noise is a fraction in [0, 1].");
        if (!(Temperature > 0) || !(ClusterSpread >= 0) || !(RelationScale >= 0) || !(ActivitySpread >= 0) || !(TimeJitter >= 0))
            throw new ArgumentException("Temperature must be positive; spreads and scales non-negative.");
        if (PeriodSeconds <= 0) throw new ArgumentException("PeriodSeconds must be positive.");
    }
}

/// <summary>
/// A generated dataset together with the truth it was generated from.
/// </summary>
internal sealed class SyntheticDataset
{
    /// <summary>The interactions. Rating = 1 + relation type (so a "rating histogram" is the type histogram);
    /// Timestamp = planted time; Catalog: titles "item-17", one genre "cluster-3" per item. Raw ids carry the
    /// index ("user-5" is user 5, "item-17" is item 17). Rows are grouped by user and sorted by time within a
    /// user.</summary>
    public required Interactions Data { get; init; }
    /// <summary>Planted relation type z ∈ [0, R) of each interaction (row-aligned with <see cref="Data"/>).</summary>
    public required int[] RelationType { get; init; }
    /// <summary>Whether an interaction's item was drawn uniformly at random (noise) rather than from the choice model.</summary>
    public required bool[] IsNoise { get; init; }
    /// <summary>User vectors p_u, row-major [Users × Dim].</summary>
    public required float[] UserVectors { get; init; }
    /// <summary>Item vectors q_i, row-major [Items × Dim].</summary>
    public required float[] ItemVectors { get; init; }
    /// <summary>Relation vectors t_z, row-major [RelationTypes × Dim].</summary>
    public required float[] RelationVectors { get; init; }
    /// <summary>Cluster centres, row-major [Clusters × Dim].</summary>
    public required float[] ClusterCenters { get; init; }
    /// <summary>Cluster ("genre") of each item.</summary>
    public required int[] ItemCluster { get; init; }
    /// <summary>Each user's mixture weights over relation types, row-major [Users × RelationTypes] (zeros for unused types).</summary>
    public required float[] UserTypeWeights { get; init; }
    /// <summary>The options used.</summary>
    public required SyntheticOptions Options { get; init; }

    /// <summary>Squared distance ‖p_u + t_z − q_i‖² under the planted vectors.</summary>
    public double Distance(int user, int item, int type)
    {
        int d = Options.Dim;
        double s = 0;
        for (int k = 0; k < d; k++)
        {
            double v = UserVectors[user * d + k] + RelationVectors[type * d + k] - ItemVectors[item * d + k];
            s += v * v;
        }
        return s;
    }

    /// <summary>Fraction of the non-noise interactions whose recorded type z is the type that minimises
    /// ‖p_u + t_z' − q_i‖² over all z' (1/R would mean the types carry no geometric signal).</summary>
    public double TypeRecoveryAccuracy()
    {
        long hit = 0, n = 0;
        var d = Data;
        for (int k = 0; k < d.Count; k++)
        {
            if (IsNoise[k]) continue;
            int best = 0;
            double bestD = double.MaxValue;
            for (int z = 0; z < Options.RelationTypes; z++)
            {
                double dist = Distance(d.User[k], d.Item[k], z);
                if (dist < bestD) { bestD = dist; best = z; }
            }
            n++;
            if (best == RelationType[k]) hit++;
        }
        return n == 0 ? double.NaN : (double)hit / n;
    }
}

/// <summary>
/// Generator of implicit-feedback data with planted relations, the kit's embedded default dataset (when no
/// real data is present) and a testbed where LRML's attention should recover the relation types.
/// <para>Process (all randomness from <see cref="Rng"/> streams of the seed, so a seed fixes the data):</para>
/// <list type="number">
/// <item>Cluster centres c_k ~ N(0, I/d); item i gets a uniform cluster g(i) and q_i = c_g(i) + s_c·N(0, I/d)
/// (its "genre" is "cluster-g").</item>
/// <item>Relation vectors t_z = s_r·(uniform random direction), z = 0..R−1 (equal lengths); user vectors
/// p_u ~ N(0, I/d).</item>
/// <item>Each user mixes a random subset of <see cref="SyntheticOptions.TypesPerUser"/> types with Dirichlet(1)
/// weights and has n_u = max(min, round(mean·LogNormal(σ))) interactions.</item>
/// <item>Each interaction draws z from the user's mixture; given z, the user's items of type z are drawn
/// without replacement with P(i) ∝ exp(−‖p_u + t_z − q_i‖²/τ): Gumbel top-k, i.e. exact Plackett–Luce
/// sampling, except that items more than 50 nats below the k-th best get no Gumbel draw (this changes the
/// result with probability below e^−50 per item). A fraction <see cref="SyntheticOptions.Noise"/> of interactions take a uniform
/// random item instead (flagged). A user never gets the same item twice.</item>
/// <item>Time: t = start + period·clamp((z + ½)/R + jitter·N(0,1), 0, 1), so time partly encodes z, as the
/// LRML paper observes for real data.</item>
/// </list>
/// Why equal-length relation vectors: with random lengths the shortest t_z is nearest to almost every
/// (u, i), and the types stop being identifiable from geometry. With the defaults, the planted type is the
/// geometric argmin type for ≈ 70 % of the non-noise interactions (chance: 25 %; see
/// <see cref="SyntheticDataset.TypeRecoveryAccuracy"/>), an item's cluster predicts the type far better than
/// chance, the top 10 % of items hold ≈ 40 % of the interactions, and every item is used.
/// Cost O(Σ_u |types_u|·Items·Dim): the default takes about 0.1 s.
/// </summary>
internal static class SyntheticData
{
    /// <summary>Generates a dataset; the same options (seed included) give identical arrays on a given platform
    /// (provenance "sha256" hashes the generated columns so runs can be compared).</summary>
    public static SyntheticDataset Generate(SyntheticOptions options)
    {
        options.Validate();
        var o = options;
        int d = o.Dim, R = o.RelationTypes, I = o.Items, U = o.Users, K = o.Clusters;
        double unit = 1.0 / Math.Sqrt(d);

        var geo = new Rng(o.Seed, "synthetic/geometry");
        var centers = new float[K * d];
        for (int k = 0; k < centers.Length; k++) centers[k] = (float)(geo.NextGaussian() * unit);
        var itemCluster = new int[I];
        var q = new float[I * d];
        for (int i = 0; i < I; i++)
        {
            int g = geo.NextInt(K);
            itemCluster[i] = g;
            for (int k = 0; k < d; k++) q[i * d + k] = (float)(centers[g * d + k] + o.ClusterSpread * geo.NextGaussian() * unit);
        }
        // relation vectors: random directions, all of length RelationScale (equal norms, so no type is
        // closer to everything merely by being shorter)
        var t = new float[R * d];
        for (int z = 0; z < R; z++)
        {
            double norm = 0;
            for (int k = 0; k < d; k++) { double g = geo.NextGaussian(); t[z * d + k] = (float)g; norm += g * g; }
            double f = o.RelationScale / Math.Max(Math.Sqrt(norm), 1e-12);
            for (int k = 0; k < d; k++) t[z * d + k] = (float)(t[z * d + k] * f);
        }
        var p = new float[U * d];
        var users = new Rng(o.Seed, "synthetic/users");
        for (int k = 0; k < p.Length; k++) p[k] = (float)(users.NextGaussian() * unit);

        // per-user type mixtures and activity
        var weights = new float[U * R];
        var counts = new int[U];
        int maxPerUser = Math.Max(1, I / 2);
        int typesPerUser = Math.Min(o.TypesPerUser, R);
        var perm = new int[R];
        var w = new double[typesPerUser];
        long total = 0;
        for (int u = 0; u < U; u++)
        {
            for (int z = 0; z < R; z++) perm[z] = z;
            for (int j = 0; j < typesPerUser; j++)
            {
                int pick = j + users.NextInt(R - j);
                (perm[j], perm[pick]) = (perm[pick], perm[j]);
            }
            double sum = 0;
            for (int j = 0; j < typesPerUser; j++) { w[j] = -Math.Log(1.0 - users.NextDouble()); sum += w[j]; }
            for (int j = 0; j < typesPerUser; j++) weights[u * R + perm[j]] = (float)(w[j] / sum);
            double factor = o.ActivitySpread > 0
                ? Math.Exp(o.ActivitySpread * users.NextGaussian() - o.ActivitySpread * o.ActivitySpread / 2) : 1.0;
            counts[u] = Math.Clamp((int)Math.Round(o.InteractionsPerUser * factor), Math.Min(o.MinInteractionsPerUser, maxPerUser), maxPerUser);
            total += counts[u];
        }
        if (total > Array.MaxLength) throw new ArgumentException("Too many interactions for one array.");

        var userCol = new int[total];
        var itemCol = new int[total];
        var rating = new float[total];
        var time = new long[total];
        var type = new int[total];
        var noise = new bool[total];

        var choice = new Rng(o.Seed, "synthetic/choice");
        var taken = new bool[I];
        var takenList = new List<int>();
        var perType = new int[R];
        var keys = new double[I];
        var heap = new TopK(I);
        var rowTypes = new int[maxPerUser];
        var rowNoise = new bool[maxPerUser];
        var rowItems = new int[maxPerUser];
        var rowTimes = new long[maxPerUser];
        var order = new int[maxPerUser];
        long row = 0;
        for (int u = 0; u < U; u++)
        {
            int n = counts[u];
            Array.Clear(perType);
            int noiseCount = 0;
            for (int j = 0; j < n; j++)
            {
                int z = SampleCategorical(choice, weights.AsSpan(u * R, R));
                rowTypes[j] = z;
                rowNoise[j] = choice.NextDouble() < o.Noise;
                if (rowNoise[j]) noiseCount++; else perType[z]++;
            }
            // planted draws, type by type: Gumbel top-k of s_i = −‖p_u + t_z − q_i‖²/τ over untaken items.
            // Items whose s_i is more than PruneNats below the (k + taken)-th largest s cannot enter the top k
            // except with probability < e^−PruneNats per item, so they get no Gumbel draw (exact up to that).
            var planted = new Queue<int>[R];
            for (int z = 0; z < R; z++)
            {
                if (perType[z] == 0) continue;
                int pu = u * d, tz = z * d;
                heap.Reset(Math.Min(I, perType[z] + takenList.Count));
                for (int i = 0; i < I; i++)
                {
                    double dist = 0;
                    int qi = i * d;
                    for (int k = 0; k < d; k++)
                    {
                        double v = p[pu + k] + t[tz + k] - q[qi + k];
                        dist += v * v;
                    }
                    keys[i] = -dist / o.Temperature;
                    heap.Offer(i, keys[i]);
                }
                double cutoff = heap.MinKey - PruneNats;
                heap.Reset(perType[z]);
                for (int i = 0; i < I; i++)
                {
                    if (taken[i] || keys[i] < cutoff) continue;
                    heap.Offer(i, keys[i] - Math.Log(-Math.Log(NextOpenUnit(choice))));
                }
                var chosen = heap.TakeDescending();
                planted[z] = new Queue<int>(chosen);
                foreach (int i in chosen) { taken[i] = true; takenList.Add(i); }
            }
            // noise draws: uniform over untaken items (rejection; at most half of the items are ever taken)
            var noiseItems = new Queue<int>(noiseCount);
            for (int j = 0; j < noiseCount; j++)
            {
                int i;
                do i = choice.NextInt(I); while (taken[i]);
                taken[i] = true; takenList.Add(i);
                noiseItems.Enqueue(i);
            }
            for (int j = 0; j < n; j++)
            {
                int z = rowTypes[j];
                rowItems[j] = rowNoise[j] ? noiseItems.Dequeue() : planted[z].Dequeue();
                double frac = Math.Clamp((z + 0.5) / R + o.TimeJitter * choice.NextGaussian(), 0.0, 1.0);
                rowTimes[j] = o.StartTime + (long)Math.Round(frac * (o.PeriodSeconds - 1));
                order[j] = j;
            }
            foreach (int i in takenList) taken[i] = false;
            takenList.Clear();
            // rows of a user sorted by time (ties: draw order)
            Array.Sort(order, 0, n, Comparer<int>.Create((a, b) => rowTimes[a] != rowTimes[b] ? rowTimes[a].CompareTo(rowTimes[b]) : a.CompareTo(b)));
            for (int j = 0; j < n; j++)
            {
                int s = order[j];
                userCol[row] = u; itemCol[row] = rowItems[s]; type[row] = rowTypes[s];
                rating[row] = 1 + rowTypes[s]; time[row] = rowTimes[s]; noise[row] = rowNoise[s];
                row++;
            }
        }

        var userIds = new IdMap(Enumerable.Range(0, U).Select(u => "user-" + u.ToString(CultureInfo.InvariantCulture)));
        var itemIds = new IdMap(Enumerable.Range(0, I).Select(i => "item-" + i.ToString(CultureInfo.InvariantCulture)));
        var genreNames = Enumerable.Range(0, K).Select(k => "cluster-" + k.ToString(CultureInfo.InvariantCulture)).ToArray();
        var catalog = new ItemCatalog(genreNames);
        for (int i = 0; i < I; i++) catalog.Add(new ItemInfo(itemIds[i], itemIds[i], [genreNames[itemCluster[i]]]));
        var prov = new Dictionary<string, string>
        {
            [ProvenanceKeys.File] = "(generated)",
            [ProvenanceKeys.Sha256] = ContentHash(userCol, itemCol, type, time),
            [ProvenanceKeys.Format] = "synthetic planted relations; rating = 1 + relation type",
            ["generator"] = nameof(SyntheticData),
            ["options"] = o.ToString(),
        };
        var data = new Interactions("synthetic", userCol, itemCol, rating, time, userIds, itemIds, catalog, prov);
        return new SyntheticDataset
        {
            Data = data, RelationType = type, IsNoise = noise, UserVectors = p, ItemVectors = q, RelationVectors = t,
            ClusterCenters = centers, ItemCluster = itemCluster, UserTypeWeights = weights, Options = o,
        };
    }

    /// <summary>Pruning margin of the Gumbel top-k draw (nats): e^−50 ≈ 2·10⁻²².</summary>
    private const double PruneNats = 50;

    private static double NextOpenUnit(Rng rng)
    {
        double x;
        do x = rng.NextDouble(); while (x <= 0);
        return x;
    }

    private static int SampleCategorical(Rng rng, ReadOnlySpan<float> w)
    {
        double x = rng.NextDouble(), acc = 0;
        int last = -1;
        for (int z = 0; z < w.Length; z++)
        {
            if (w[z] <= 0) continue;
            acc += w[z];
            last = z;
            if (x < acc) return z;
        }
        return last;   // rounding: the last type with weight
    }

    private static string ContentHash(int[] u, int[] i, int[] z, long[] t)
    {
        using var h = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        h.AppendData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(u.AsSpan()));
        h.AppendData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(i.AsSpan()));
        h.AppendData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(z.AsSpan()));
        h.AppendData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(t.AsSpan()));
        return Convert.ToHexStringLower(h.GetHashAndReset());
    }

    /// <summary>Bounded min-heap keeping the k largest keys.</summary>
    private sealed class TopK
    {
        private readonly int[] _item;
        private readonly double[] _key;
        private int _k, _n;

        public TopK(int capacity) { _item = new int[capacity]; _key = new double[capacity]; }

        public void Reset(int k) { _k = k; _n = 0; }

        /// <summary>The smallest kept key (the k-th largest offered so far).</summary>
        public double MinKey => _n == 0 ? double.NegativeInfinity : _key[0];

        public void Offer(int item, double key)
        {
            if (_n < _k)
            {
                int c = _n++;
                _item[c] = item; _key[c] = key;
                while (c > 0)
                {
                    int parent = (c - 1) / 2;
                    if (_key[parent] <= _key[c]) break;
                    Swap(parent, c);
                    c = parent;
                }
                return;
            }
            if (key <= _key[0]) return;
            _item[0] = item; _key[0] = key;
            int i = 0;
            while (true)
            {
                int l = 2 * i + 1, r = l + 1, m = i;
                if (l < _n && _key[l] < _key[m]) m = l;
                if (r < _n && _key[r] < _key[m]) m = r;
                if (m == i) break;
                Swap(i, m);
                i = m;
            }
        }

        /// <summary>The kept items, largest key first.</summary>
        public int[] TakeDescending()
        {
            var idx = new int[_n];
            for (int k = 0; k < _n; k++) idx[k] = k;
            var keys = _key; var items = _item;
            Array.Sort(idx, (a, b) => keys[b] != keys[a] ? keys[b].CompareTo(keys[a]) : items[a].CompareTo(items[b]));
            var result = new int[_n];
            for (int k = 0; k < _n; k++) result[k] = items[idx[k]];
            return result;
        }

        private void Swap(int a, int b)
        {
            (_item[a], _item[b]) = (_item[b], _item[a]);
            (_key[a], _key[b]) = (_key[b], _key[a]);
        }
    }
}
