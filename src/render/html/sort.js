// Sortable tables: click a column header to sort by it (numbers by their raw value in
// data-sort, text alphabetically; empty cells last). Without this script the tables read as
// they come.
(function () {
  'use strict';
  function key(row, col) {
    var cell = row.cells[col];
    if (!cell) return '';
    var raw = cell.getAttribute('data-sort');
    return raw === null ? cell.textContent.trim() : raw;
  }
  function enhance(table) {
    var head = table.tHead && table.tHead.rows[0];
    var body = table.tBodies[0];
    if (!head || !body) return;
    var heads = Array.prototype.slice.call(head.cells);
    heads.forEach(function (th, col) {
      var numeric = th.getAttribute('data-type') === 'num';
      var button = document.createElement('button');
      button.type = 'button';
      button.className = 'sort';
      while (th.firstChild) button.appendChild(th.firstChild);
      th.appendChild(button);
      button.addEventListener('click', function () {
        var current = th.getAttribute('aria-sort');
        var descending = current ? current === 'ascending' : numeric;
        heads.forEach(function (h) { h.removeAttribute('aria-sort'); });
        th.setAttribute('aria-sort', descending ? 'descending' : 'ascending');
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = key(a, col), y = key(b, col);
          if (x === '' || y === '') return x === y ? 0 : (x === '' ? 1 : -1);
          var c = numeric ? Number(x) - Number(y) : x.localeCompare(y);
          return descending ? -c : c;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  }
  Array.prototype.forEach.call(document.querySelectorAll('table.sortable'), enhance);
})();
